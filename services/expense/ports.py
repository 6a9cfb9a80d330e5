"""What expense-service needs from other services, as interfaces (adapters in peers.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol


class Groups(Protocol):
    async def members_among(self, group_id: str, user_ids: Sequence[str]) -> set[str] | None:
        """The subset of `user_ids` who are members; None when the group does not exist."""

    async def groups_of_caller(self) -> list[str]:
        """Ids of every group the calling user belongs to."""


@dataclass(frozen=True)
class PresetView:
    """A group's split preset as group-service reports it."""

    name: str
    mode: str  # "equal", "percent", "shares" or "exact"
    entries: tuple[tuple[str, int], ...]
    currency_code: str
    departed: tuple[str, ...]  # named users who are no longer members


class Presets(Protocol):
    async def preset(self, group_id: str, preset_id: str) -> PresetView | None:
        """A preset of the group ("default": its default); None when there is no such preset."""


class Directory(Protocol):
    async def display_names(self, user_ids: Sequence[str]) -> dict[str, str]:
        """Display names of existing users; unknown ids are absent."""

    async def names_and_locale(self, user_ids: Sequence[str], reader: str) -> tuple[dict[str, str], str]:
        """Display names as above, and the BCP 47 locale of user ``reader`` ("" when unset):
        one directory call for a feed page and the person reading it."""


class GroupInfo(Protocol):
    async def snapshot(self, group_id: str) -> tuple[str, dict[str, str]]:
        """The group's display name and its members' display names by user id (caller's view)."""


class Settlements(Protocol):
    async def record(
        self,
        group_id: str,
        *,
        payer: str,
        payee: str,
        currency: str,
        amount_minor: int,
        when: date,
        note: str,
        request_id: str,
    ) -> str:
        """Records a payment through settlement-service; returns its resource name."""
