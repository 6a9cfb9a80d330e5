"""What group-service needs from other services, as interfaces (adapters in peers.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Profile:
    display_name: str
    placeholder: bool


class UserDirectory(Protocol):
    async def ensure(self, *, phone_number: str = "", email: str = "", display_name: str = "") -> str:
        """The user id for a contact, creating a placeholder user when there is none."""

    async def profiles(self, user_ids: list[str]) -> dict[str, Profile]:
        """Profiles of existing users; unknown ids are absent."""


class Balances(Protocol):
    async def is_settled(self, group_id: str, user_id: str) -> bool:
        """Whether the user's balance in the group is zero in every currency."""
