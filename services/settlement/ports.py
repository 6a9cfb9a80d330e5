"""What settlement-service's use cases need, as interfaces: from other services (adapters
in peers.py) and from storage (SettlementRepositories, adapter in repository.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from libs.idempotency import Keys
from libs.ledger.book import Ledger
from libs.outbox import Outbox
from services.settlement.domain import Settlement
from services.settlement.rates.reference import ReferenceRates


@dataclass(frozen=True)
class Member:
    user_id: str
    display_name: str


@dataclass(frozen=True)
class GroupInfo:
    group_id: str
    display_name: str
    direct: bool


@dataclass(frozen=True)
class Profile:
    display_name: str
    upi_vpa: str


class Groups(Protocol):
    async def members(self, group_id: str) -> list[Member]:
        """Every member, as the caller sees them; NotFound when the caller is not a member."""

    async def members_among(self, group_id: str, user_ids: list[str]) -> set[str]:
        """Which of `user_ids` are members; NotFound when the group does not exist."""

    async def my_groups(self) -> list[GroupInfo]:
        """Every group and friend ledger of the caller, archived ones too."""

    def cache_keys(self, group_id: str) -> list[str]:
        """The cache keys ``members`` reads for the group, for a caller that reads them ahead
        together with its own (libs.cache.Cache.read_ahead)."""


class Users(Protocol):
    async def profiles(self, user_ids: list[str]) -> dict[str, Profile]:
        """Profiles of existing users; unknown ids are absent."""


class RatesSource(Protocol):
    async def fetch(self) -> ReferenceRates:
        """The source's newest published day (rates.ecb.SourceError when it cannot be had)."""


class SettlementRepositories(Protocol):
    """The settlements, the reference exchange rates and the ledger, in one unit of work."""

    @property
    def keys(self) -> Keys: ...

    @property
    def outbox(self) -> Outbox: ...

    @property
    def ledger(self) -> Ledger: ...

    async def insert(self, settlement: Settlement) -> Settlement:
        """Stores a new settlement; the answer carries its change-feed position."""

    async def get(self, group_id: str, settlement_id: str, *, lock: bool = False) -> Settlement | None:
        """None when the group has no such settlement; ``lock`` holds it until the unit ends."""

    async def set_deleted(self, settlement_id: str, deleted: bool) -> Settlement:
        """Marks it deleted or restored: a new version and a new change-feed position."""

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
        """Newest transaction date first, then newest created, then id descending;
        ``after`` is the (date, created_at, id) keyset of the previous page's last row."""

    async def changes_since(
        self,
        group_ids: Sequence[str],
        after: tuple[int, str] | None,
        upto: tuple[int, str] | None,
        limit: int,
    ) -> list[Settlement]:
        """Settlements of the groups written after ``after`` (and up to ``upto``) by units
        that are over, ordered by change key."""

    async def store_rates(self, rates: ReferenceRates) -> bool:
        """Stores the day's rates unless that day is stored already (then False)."""

    async def newest_rates(self, on_or_before: date | None) -> ReferenceRates | None:
        """The newest stored day on or before the date (any day when None)."""
