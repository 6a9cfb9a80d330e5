"""Writing the feed entries of other services' events: one transaction per event."""

from __future__ import annotations

from libs.db.unit_of_work import UnitOfWork
from services.expense.activity.entries import Entry
from services.expense.ports import ExpenseRepositories


class FeedWriter:
    def __init__(self, uow: UnitOfWork[ExpenseRepositories]):
        self._uow = uow

    async def record(self, entry: Entry) -> bool:
        """True when the entry was written; False when its event had been recorded before."""
        async with self._uow.transaction() as repos:
            return await repos.insert_entry(entry)
