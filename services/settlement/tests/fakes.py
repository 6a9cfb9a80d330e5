"""In-memory stand-ins for settlement-service's ports: its repositories (the same rules as
repository.py's SQL) and the group and auth services it asks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from typing import Any

from libs import clock
from libs.db.repositories import MemoryRepositories
from libs.errors import NotFound
from libs.ledger.book import MemoryLedger
from services.settlement.domain import Settlement
from services.settlement.ports import GroupInfo, Member, Profile
from services.settlement.rates.reference import ReferenceRates


class MemorySettlementRepositories(MemoryRepositories):
    def __init__(self) -> None:
        super().__init__()
        self.ledger = MemoryLedger()
        self.settlements: dict[str, Settlement] = {}
        # day → the rates stored for it
        self.rates: dict[date, ReferenceRates] = {}
        # Stands for the writing transaction's id: every write takes the next one.
        self.xid = 0

    def _stamp(self, s: Settlement, change: str) -> Settlement:
        self.xid += 1
        return replace(s, last_change=change, changed_at=clock.now(), change_key=(self.xid, s.id))

    async def insert(self, settlement: Settlement) -> Settlement:
        saved = self._stamp(settlement, "created")
        self.settlements[saved.id] = saved
        return saved

    async def get(self, group_id: str, settlement_id: str, *, lock: bool = False) -> Settlement | None:
        found = self.settlements.get(settlement_id)
        return found if found is not None and found.group_id == group_id else None

    async def set_deleted(self, settlement_id: str, deleted: bool) -> Settlement:
        old = self.settlements[settlement_id]
        updated = self._stamp(
            replace(
                old,
                deleted=deleted,
                version=old.version + 1,
                deleted_at=clock.now() if deleted else None,
            ),
            "deleted" if deleted else "restored",
        )
        self.settlements[settlement_id] = updated
        return updated

    async def page(
        self,
        group_id: str,
        *,
        user: str,
        start: date | None,
        end: date | None,
        show_deleted: bool,
        after: list[Any] | None,
        limit: int,
    ) -> list[Settlement]:
        def key(s: Settlement) -> tuple[str, str, str]:
            return (s.transaction_date.isoformat(), s.created_at.isoformat(), s.id)

        found = [
            s
            for s in self.settlements.values()
            if s.group_id == group_id
            and (not user or user in (s.payer, s.payee))
            and (start is None or s.transaction_date >= start)
            and (end is None or s.transaction_date <= end)
            and (show_deleted or not s.deleted)
            and (not after or key(s) < (after[0], after[1], after[2]))
        ]
        return sorted(found, key=key, reverse=True)[:limit]

    async def changes_since(
        self,
        group_ids: Sequence[str],
        after: tuple[int, str] | None,
        upto: tuple[int, str] | None,
        limit: int,
    ) -> list[Settlement]:
        found = [
            s
            for s in self.settlements.values()
            if s.group_id in group_ids
            and (after is None or s.change_key > after)
            and (upto is None or s.change_key <= upto)
        ]
        return sorted(found, key=lambda s: s.change_key)[:limit]

    async def store_rates(self, rates: ReferenceRates) -> bool:
        if rates.day in self.rates:
            return False
        self.rates[rates.day] = rates
        return True

    async def newest_rates(self, on_or_before: date | None) -> ReferenceRates | None:
        days = [d for d in self.rates if on_or_before is None or d <= on_or_before]
        return self.rates[max(days)] if days else None


class FakeGroups:
    """group id → member ids; a member's display name is their id in capitals."""

    def __init__(self, members: dict[str, list[str]]):
        self.rosters = members

    async def members(self, group_id: str) -> list[Member]:
        if group_id not in self.rosters:
            raise NotFound("group not found")
        return [Member(u, u.upper()) for u in self.rosters[group_id]]

    async def members_among(self, group_id: str, user_ids: list[str]) -> set[str]:
        if group_id not in self.rosters:
            raise NotFound("group not found")
        return set(user_ids) & set(self.rosters[group_id])

    async def my_groups(self) -> list[GroupInfo]:
        return [GroupInfo(g, "Trip", False) for g in self.rosters]

    def cache_keys(self, group_id: str) -> list[str]:
        return []


class FakeUsers:
    def __init__(self, upi: dict[str, str] | None = None):
        self.upi = upi or {}

    async def profiles(self, user_ids: list[str]) -> dict[str, Profile]:
        return {u: Profile(u.upper(), self.upi.get(u, "")) for u in user_ids}


class FixedSource:
    def __init__(self, rates: ReferenceRates):
        self.rates = rates

    async def fetch(self) -> ReferenceRates:
        return self.rates
