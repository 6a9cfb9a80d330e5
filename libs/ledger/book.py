"""The ledger as its two owners' use cases see it: one port, two adapters.

:class:`Ledger` is what expense and settlement do with money: post an entry, replace
it (an edit), reverse or restore it, and read balances. :class:`SqlLedger` does it in
PostgreSQL through :mod:`libs.ledger.store`, on the unit of work's connection;
:class:`MemoryLedger` keeps the same rules in memory for use-case tests. The same
contract test (``libs/tests/test_ledger_book.py``) runs on both.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncConnection

from libs.ledger import store, versions
from libs.ledger.postings import Posting, Postings, apply, check_balanced, diff
from libs.ledger.store import Entry


class Ledger(Protocol):
    async def record(
        self,
        *,
        group_id: str,
        kind: str,
        currency: str,
        total_minor: int,
        postings: Postings,
        entry_id: str | None = None,
    ) -> str:
        """A new active entry; its nets are added to the balances. Returns its id."""

    async def replace(self, entry_id: str, *, currency: str, total_minor: int, postings: Postings) -> None:
        """An edit: the balances move by the difference (LookupError for an unknown entry)."""

    async def set_active(self, entry_id: str, active: bool) -> bool:
        """Reverse or restore an entry; False when it already was in that state."""

    async def get(self, entry_id: str, *, lock: bool = False) -> Entry | None: ...

    async def postings_of(self, entry_ids: list[str]) -> dict[str, dict[str, Posting]]:
        """entry id → user → posting, for the entries that exist."""

    async def group_balances(self, group_id: str) -> dict[str, dict[str, int]]:
        """currency → user → net (non-zero only)."""

    async def user_balances(self, user_id: str) -> dict[str, dict[str, int]]:
        """group → currency → the user's net (non-zero only)."""

    async def member_balance(self, group_id: str, user_id: str) -> dict[str, int]:
        """currency → the member's net in the group (non-zero only)."""

    async def version(self, group_id: str) -> int:
        """The group's ledger version (libs.ledger.versions): moves with every balance change."""


class SqlLedger:
    def __init__(self, conn: AsyncConnection):
        self._conn = conn

    async def record(
        self,
        *,
        group_id: str,
        kind: str,
        currency: str,
        total_minor: int,
        postings: Postings,
        entry_id: str | None = None,
    ) -> str:
        return await store.record(
            self._conn,
            group_id=group_id,
            kind=kind,
            currency=currency,
            total_minor=total_minor,
            postings=postings,
            entry_id=entry_id,
        )

    async def replace(self, entry_id: str, *, currency: str, total_minor: int, postings: Postings) -> None:
        await store.replace(
            self._conn, entry_id, currency=currency, total_minor=total_minor, postings=postings
        )

    async def set_active(self, entry_id: str, active: bool) -> bool:
        return await store.set_active(self._conn, entry_id, active)

    async def get(self, entry_id: str, *, lock: bool = False) -> Entry | None:
        return await store.get(self._conn, entry_id, lock=lock)

    async def postings_of(self, entry_ids: list[str]) -> dict[str, dict[str, Posting]]:
        return await store.postings_of(self._conn, entry_ids)

    async def group_balances(self, group_id: str) -> dict[str, dict[str, int]]:
        return await store.group_balances(self._conn, group_id)

    async def user_balances(self, user_id: str) -> dict[str, dict[str, int]]:
        return await store.user_balances(self._conn, user_id)

    async def member_balance(self, group_id: str, user_id: str) -> dict[str, int]:
        return await store.member_balance(self._conn, group_id, user_id)

    async def version(self, group_id: str) -> int:
        return await versions.current(self._conn, group_id)


@dataclass
class MemoryLedger:
    """The ledger's rules without PostgreSQL: balances move by the same differences."""

    entries: dict[str, Entry]
    # group → currency → user → net, zero nets left out
    balances: dict[str, dict[str, dict[str, int]]]
    versions: dict[str, int]

    def __init__(self) -> None:
        self.entries, self.balances, self.versions = {}, {}, {}

    def _apply(self, group_id: str, currency: str, deltas: dict[str, int]) -> None:
        if not deltas:
            return
        self.versions[group_id] = self.versions.get(group_id, 0) + 1
        by_currency = self.balances.setdefault(group_id, {})
        moved = apply(by_currency.get(currency, {}), deltas)
        if moved:
            by_currency[currency] = moved
        else:
            by_currency.pop(currency, None)

    def _existing(self, entry_id: str) -> Entry:
        if entry_id not in self.entries:
            raise LookupError(f"ledger entry {entry_id} does not exist")
        return self.entries[entry_id]

    async def record(
        self,
        *,
        group_id: str,
        kind: str,
        currency: str,
        total_minor: int,
        postings: Postings,
        entry_id: str | None = None,
    ) -> str:
        check_balanced(postings, total_minor)
        entry_id = entry_id or str(uuid.uuid4())
        self.entries[entry_id] = Entry(
            entry_id, group_id, kind, currency, total_minor, True, 1, dict(postings)
        )
        self._apply(group_id, currency, diff({}, postings))
        return entry_id

    async def replace(self, entry_id: str, *, currency: str, total_minor: int, postings: Postings) -> None:
        check_balanced(postings, total_minor)
        old = self._existing(entry_id)
        if old.active:
            if old.currency == currency:
                self._apply(old.group_id, currency, diff(old.postings, postings))
            else:
                self._apply(old.group_id, old.currency, diff(old.postings, {}))
                self._apply(old.group_id, currency, diff({}, postings))
        self.entries[entry_id] = replace(
            old, currency=currency, total_minor=total_minor, postings=dict(postings), version=old.version + 1
        )

    async def set_active(self, entry_id: str, active: bool) -> bool:
        entry = self._existing(entry_id)
        if entry.active == active:
            return False
        deltas = diff({}, entry.postings) if active else diff(entry.postings, {})
        self._apply(entry.group_id, entry.currency, deltas)
        self.entries[entry_id] = replace(entry, active=active, version=entry.version + 1)
        return True

    async def get(self, entry_id: str, *, lock: bool = False) -> Entry | None:
        return self.entries.get(entry_id)

    async def postings_of(self, entry_ids: list[str]) -> dict[str, dict[str, Posting]]:
        return {e: dict(self.entries[e].postings) for e in entry_ids if e in self.entries}

    async def group_balances(self, group_id: str) -> dict[str, dict[str, int]]:
        return {c: dict(nets) for c, nets in sorted(self.balances.get(group_id, {}).items())}

    async def user_balances(self, user_id: str) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for group_id, by_currency in sorted(self.balances.items()):
            for currency, nets in sorted(by_currency.items()):
                if nets.get(user_id):
                    out.setdefault(group_id, {})[currency] = nets[user_id]
        return out

    async def member_balance(self, group_id: str, user_id: str) -> dict[str, int]:
        return (await self.user_balances(user_id)).get(group_id, {})

    async def version(self, group_id: str) -> int:
        return self.versions.get(group_id, 0)
