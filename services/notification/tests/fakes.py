"""notification-service's ports in memory: its repositories (the NotificationRepositories
port, mirroring the SQL in repository.py) and the services and providers it calls."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from libs.db.repositories import MemoryRepositories
from services.notification.domain import (
    Channel,
    Delivery,
    EventType,
    MembershipChange,
    Notification,
    Preferences,
)
from services.notification.ports import Device, Outgoing, Profile


class Clock:
    """The database's now(): moves a millisecond per write so rows keep their order, and
    jumps when a test lets time pass."""

    def __init__(self) -> None:
        self.at = datetime(2031, 1, 1, tzinfo=UTC)

    def tick(self) -> datetime:
        self.at += timedelta(milliseconds=1)
        return self.at

    def advance(self, by: timedelta) -> None:
        self.at += by


@dataclass
class StoredNotification:
    notification: Notification
    event_id: str
    in_app: bool


@dataclass
class StoredDelivery:
    delivery: Delivery
    notification_id: str
    user_id: str
    status: str = "pending"
    next_attempt_at: datetime | None = None
    provider_id: str = ""
    last_error: str = ""


class MemoryNotificationRepositories(MemoryRepositories):
    def __init__(self) -> None:
        super().__init__()
        self.clock = Clock()
        self.processed: dict[str, str] = {}
        self.memberships: dict[tuple[str, str], tuple[bool, int]] = {}
        self.notifications: dict[str, StoredNotification] = {}
        self.deliveries: dict[str, StoredDelivery] = {}
        self.prefs: dict[str, Preferences] = {}
        self.job_runs: dict[tuple[str, datetime], dict[str, Any] | None] = {}
        self.reminded: set[tuple[str, str]] = set()

    # -- events and memberships -----------------------------------------------------------

    async def event_seen(self, event_id: str) -> bool:
        return event_id in self.processed

    async def claim_event(self, event_id: str, event_type: str) -> bool:
        if event_id in self.processed:
            return False
        self.processed[event_id] = event_type
        return True

    async def apply_membership(self, change: MembershipChange) -> None:
        key = (change.group, change.user)
        current = self.memberships.get(key)
        if current is None or current[1] < change.seq:
            self.memberships[key] = (change.present, change.seq)

    async def members(self, group_id: str) -> list[str]:
        return [u for (g, u), (present, _) in self.memberships.items() if g == group_id and present]

    async def memberships_of(self, user_ids: list[str]) -> list[tuple[str, str]]:
        found = [(g, u) for (g, u), (present, _) in self.memberships.items() if present and u in user_ids]
        return sorted(found, key=lambda m: (m[1], m[0]))

    async def users_with_memberships(self, after: str, limit: int) -> list[str]:
        users = {u for (_, u), (present, _) in self.memberships.items() if present and u > after}
        return sorted(users)[:limit]

    # -- notifications and the inbox ------------------------------------------------------

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
        if any(
            n.event_id == event_id and n.notification.user_id == user_id for n in self.notifications.values()
        ):
            return None
        notification = Notification(
            str(uuid.uuid4()),
            user_id,
            event_type,
            title,
            body,
            deep_link,
            group_id,
            actor,
            self.clock.tick(),
            False,
        )
        self.notifications[notification.id] = StoredNotification(notification, event_id, in_app)
        return notification.id

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
        delivery = Delivery(str(uuid.uuid4()), channel.value, target, title, body, deep_link, 0)
        self.deliveries[delivery.id] = StoredDelivery(
            delivery, notification_id, user_id, next_attempt_at=self.clock.tick()
        )

    def _inbox(self, user_id: str) -> list[Notification]:
        return [
            s.notification
            for s in self.notifications.values()
            if s.in_app and s.notification.user_id == user_id
        ]

    async def inbox(
        self, user_id: str, *, unread_only: bool, after: list[Any] | None, limit: int
    ) -> list[Notification]:
        found = [n for n in self._inbox(user_id) if not (unread_only and n.read)]
        if after:
            cut = (datetime.fromisoformat(after[0]), str(after[1]))
            found = [n for n in found if (n.created_at, n.id) < cut]
        return sorted(found, key=lambda n: (n.created_at, n.id), reverse=True)[:limit]

    async def unread_count(self, user_id: str) -> int:
        return sum(not n.read for n in self._inbox(user_id))

    async def mark_read(
        self, user_id: str, *, ids: list[str] | None = None, before: datetime | None = None
    ) -> int:
        marked = 0
        for stored in self.notifications.values():
            n = stored.notification
            if n.user_id != user_id or n.read:
                continue
            if (n.id in ids) if ids is not None else (before is not None and n.created_at <= before):
                stored.notification = replace(n, read=True)
                marked += 1
        return marked

    async def purge_read_before(self, before: datetime) -> int:
        gone = [
            i
            for i, s in self.notifications.items()
            if s.notification.read and s.notification.created_at < before
        ]
        for i in gone:
            del self.notifications[i]
        return len(gone)

    # -- preferences ----------------------------------------------------------------------

    async def preferences(self, user_id: str, *, lock: bool = False) -> Preferences:
        return (await self.preferences_of([user_id]))[user_id]

    async def preferences_of(self, user_ids: list[str], *, lock: bool = False) -> dict[str, Preferences]:
        return {u: self.prefs.get(u) or Preferences(user_id=u) for u in user_ids}

    async def save_preferences(
        self, prefs: Preferences, switches: list[tuple[EventType, Channel, bool]]
    ) -> None:
        current = self.prefs.get(prefs.user_id)
        overrides = dict(current.overrides) if current else {}
        overrides |= {(e, c): on for e, c, on in switches}
        self.prefs[prefs.user_id] = Preferences(
            user_id=prefs.user_id,
            reminder_hour=prefs.reminder_hour,
            time_zone=prefs.time_zone,
            locale=prefs.locale,
            overrides=overrides,
            version=current.version + 1 if current else 1,
            updated_at=self.clock.tick(),
        )

    # -- deliveries -----------------------------------------------------------------------

    async def due_deliveries(self, limit: int) -> list[Delivery]:
        due = [
            s
            for s in self.deliveries.values()
            if s.status == "pending" and s.next_attempt_at is not None and s.next_attempt_at <= self.clock.at
        ]
        due.sort(key=lambda s: s.next_attempt_at or self.clock.at)
        return [s.delivery for s in due[:limit]]

    async def delivery_sent(self, delivery_id: str, provider_id: str) -> None:
        stored = self.deliveries[delivery_id]
        stored.status, stored.provider_id, stored.last_error = "sent", provider_id, ""
        stored.delivery = replace(stored.delivery, attempts=stored.delivery.attempts + 1)

    async def delivery_failed(self, delivery_id: str, error: str, *, retry_in_seconds: float | None) -> None:
        stored = self.deliveries[delivery_id]
        stored.delivery = replace(stored.delivery, attempts=stored.delivery.attempts + 1)
        stored.last_error = error[:500]
        stored.status = "failed" if retry_in_seconds is None else "pending"
        stored.next_attempt_at = self.clock.at + timedelta(seconds=retry_in_seconds or 0)

    # -- jobs -----------------------------------------------------------------------------

    async def start_job(self, job: str, period_start: datetime) -> bool:
        self.job_runs.setdefault((job, period_start), None)
        return self.job_runs[(job, period_start)] is None

    async def finish_job(self, job: str, period_start: datetime, result: dict[str, Any]) -> None:
        self.job_runs[(job, period_start)] = result

    async def claim_reminder_day(self, user_id: str, day: str) -> bool:
        if (user_id, day) in self.reminded:
            return False
        self.reminded.add((user_id, day))
        return True


class FakeDirectory:
    def __init__(self) -> None:
        self.people: dict[str, Profile] = {}

    def add(self, name: str, locale: str = "en-IN", *, placeholder: bool = False) -> str:
        user = str(uuid.uuid4())
        self.people[user] = Profile(
            user, name, locale, f"+9198{uuid.uuid4().int % 10**8:08d}", f"{user}@x.in", placeholder
        )
        return user

    async def profiles(self, user_ids: list[str]) -> dict[str, Profile]:
        return {u: self.people[u] for u in user_ids if u in self.people}

    async def devices(self, user_ids: list[str]) -> dict[str, list[Device]]:
        return {u: [Device(u, "ANDROID", f"tok-{u}")] for u in user_ids}


class FakeBalances:
    def __init__(self) -> None:
        self.nets: dict[tuple[str, str], dict[str, int]] = {}

    async def member_balance(self, group_id: str, user_id: str) -> dict[str, int]:
        return self.nets.get((group_id, user_id), {})


class FakeSender:
    """A provider that takes every message, or fails them all while ``down``."""

    def __init__(self) -> None:
        self.sent: list[Outgoing] = []
        self.calls = 0
        self.down = False

    async def send(self, message: Outgoing) -> str:
        self.calls += 1
        if self.down:
            raise ConnectionError("provider down")
        self.sent.append(message)
        return f"msg-{self.calls}"
