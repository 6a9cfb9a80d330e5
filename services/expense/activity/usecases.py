"""Writing the feed entries of other services' events: one transaction per event."""

from __future__ import annotations

from libs.db.database import Database
from services.expense import repository
from services.expense.activity.entries import Entry


class FeedWriter:
    def __init__(self, db: Database):
        self._db = db

    async def record(self, entry: Entry) -> bool:
        """True when the entry was written; False when its event had been recorded before."""
        async with self._db.transaction() as conn:
            return await repository.insert_entry(conn, entry)
