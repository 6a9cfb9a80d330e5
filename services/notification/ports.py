"""What notification-service needs from other services and from AWS, and from its own
tables (the repositories port; SQL in repository.py), as interfaces."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from libs.idempotency import Keys
from libs.outbox import Outbox
from services.notification.domain import (
    Channel,
    Delivery,
    EventType,
    MembershipChange,
    Notification,
    Preferences,
)


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


class NotificationRepositories(Protocol):
    """What the notification use cases read and write, inside one unit of work: the
    events already handled, the copy of group memberships the events keep, inboxes,
    preferences, deliveries and the runs of scheduled jobs."""

    @property
    def keys(self) -> Keys: ...

    @property
    def outbox(self) -> Outbox: ...

    async def event_seen(self, event_id: str) -> bool: ...

    async def claim_event(self, event_id: str, event_type: str) -> bool:
        """True the first time an event id is seen; False for a redelivery."""

    async def apply_membership(self, change: MembershipChange) -> None:
        """Newer seq wins, so an older event delivered late does not undo a newer one."""

    async def members(self, group_id: str) -> list[str]:
        """The group's present members, as the membership events left them."""

    async def memberships_of(self, user_ids: list[str]) -> list[tuple[str, str]]:
        """(group id, user id) of every present membership of these users, by user then group."""

    async def users_with_memberships(self, after: str, limit: int) -> list[str]:
        """Users with a present membership, by id, after ``after``."""

    async def insert_notification(
        self,
        *,
        user_id: str,
        event_id: str,
        event_type: EventType,
        title: str,
        body: str,
        deep_link: str,
        group_id: str,
        actor: str,
        in_app: bool = True,
    ) -> str | None:
        """The new row's id; None when this user already has this event."""

    async def insert_delivery(
        self,
        notification_id: str,
        user_id: str,
        channel: Channel,
        target: str,
        title: str,
        body: str,
        deep_link: str,
    ) -> None:
        """A delivery due now."""

    async def inbox(
        self, user_id: str, *, unread_only: bool, after: list[Any] | None, limit: int
    ) -> list[Notification]:
        """In-app notifications, newest first (ties by id, descending)."""

    async def unread_count(self, user_id: str) -> int: ...

    async def mark_read(
        self, user_id: str, *, ids: list[str] | None = None, before: datetime | None = None
    ) -> int:
        """Marks the unread ones among ``ids`` (or created up to ``before``); how many."""

    async def preferences(self, user_id: str, *, lock: bool = False) -> Preferences:
        """The user's preferences, the defaults if they never set any."""

    async def preferences_of(self, user_ids: list[str], *, lock: bool = False) -> dict[str, Preferences]: ...

    async def save_preferences(
        self, prefs: Preferences, switches: list[tuple[EventType, Channel, bool]]
    ) -> None:
        """Stores the hour, zone and locale of ``prefs`` (bumping the version) and the switches."""

    async def due_deliveries(self, limit: int) -> list[Delivery]:
        """Pending deliveries whose time has come, held until the unit of work ends (and
        skipped by a concurrent one)."""

    async def delivery_sent(self, delivery_id: str, provider_id: str) -> None: ...

    async def delivery_failed(self, delivery_id: str, error: str, *, retry_in_seconds: float | None) -> None:
        """Schedules the next attempt, or gives up when ``retry_in_seconds`` is None."""

    async def start_job(self, job: str, period_start: datetime) -> bool:
        """True when this (job, period) has not completed yet (a crashed run may be redone)."""

    async def finish_job(self, job: str, period_start: datetime, result: dict[str, Any]) -> None: ...

    async def claim_reminder_day(self, user_id: str, day: str) -> bool:
        """True the first time the user is reminded on this local day."""

    async def purge_read_before(self, before: datetime) -> int:
        """Deletes read notifications created before ``before``; how many."""
