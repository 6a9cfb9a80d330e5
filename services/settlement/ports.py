"""What settlement-service needs from other services, as interfaces (adapters in peers.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

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


class Users(Protocol):
    async def profiles(self, user_ids: list[str]) -> dict[str, Profile]:
        """Profiles of existing users; unknown ids are absent."""


class RatesSource(Protocol):
    async def fetch(self) -> ReferenceRates:
        """The source's newest published day (rates.ecb.SourceError when it cannot be had)."""
