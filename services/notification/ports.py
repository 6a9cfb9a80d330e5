"""What notification-service needs from other services and from AWS, as interfaces."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Profile:
    user_id: str
    display_name: str
    locale: str
    phone_number: str
    email: str
    placeholder: bool


@dataclass(frozen=True)
class Device:
    user_id: str
    platform: str  # ANDROID | IOS
    push_token: str


class Directory(Protocol):
    async def profiles(self, user_ids: list[str]) -> dict[str, Profile]:
        """Profiles of existing users; unknown ids are absent."""

    async def devices(self, user_ids: list[str]) -> dict[str, list[Device]]:
        """Registered push devices per user."""


class Balances(Protocol):
    async def member_balance(self, group_id: str, user_id: str) -> dict[str, int]:
        """The member's non-zero nets per currency (negative: owes)."""


@dataclass(frozen=True)
class Outgoing:
    channel: str  # PUSH | SMS | EMAIL
    target: str  # "ANDROID:<token>" / "IOS:<token>", a phone number, an email address
    title: str
    body: str
    deep_link: str


class Sender(Protocol):
    async def send(self, message: Outgoing) -> str:
        """Hands the message to the provider; returns its message id. Raises on failure."""
