"""Notification use cases: handle an event, the inbox, preferences, deliveries, jobs."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from libs import money_format
from libs.clock import Clock, now
from libs.db.unit_of_work import UnitOfWork
from libs.errors import InvalidArgument
from services.notification import domain, templates
from services.notification.domain import (
    Channel,
    Event,
    EventType,
    MembershipChange,
    Notification,
    Preferences,
)
from services.notification.ports import (
    Balances,
    Device,
    Directory,
    NotificationRepositories,
    Outgoing,
    Profile,
    Sender,
)

log = logging.getLogger("hisaab.notification")

_EXTERNAL = (Channel.PUSH, Channel.SMS, Channel.EMAIL)
PURGE_AFTER = timedelta(days=90)
_OWN_JOBS = frozenset({"balance_reminders", "purge_old_notifications"})


@dataclass(frozen=True)
class Handled:
    duplicate: bool
    notifications_created: int


@dataclass(frozen=True)
class JobResult:
    duplicate: bool
    processed: int = 0
    notifications_created: int = 0


@dataclass(frozen=True)
class _Recipient:
    user_id: str
    profile: Profile | None
    devices: list[Device]


def _targets(channel: Channel, recipient: _Recipient) -> list[str]:
    """Where a channel reaches the user; placeholders (never signed in) get nothing outside the app."""
    profile = recipient.profile
    if profile is None or profile.placeholder:
        return []
    if channel is Channel.PUSH:
        return [f"{d.platform}:{d.push_token}" for d in recipient.devices]
    if channel is Channel.SMS:
        return [profile.phone_number] if profile.phone_number else []
    return [profile.email] if profile.email else []


class NotificationUseCases:
    def __init__(
        self,
        uow: UnitOfWork[NotificationRepositories],
        directory: Directory,
        balances: Balances,
        *,
        external_jobs: Mapping[str, Callable[[datetime], Awaitable[int]]] | None = None,
        clock: Clock = now,
    ):
        """``external_jobs``: job name → handler in another service (returns how many it processed)."""
        self._uow = uow
        self._directory = directory
        self._balances = balances
        self._external = dict(external_jobs or {})
        self._now = clock

    # -- events ---------------------------------------------------------------------------

    async def handle(
        self, event: Event | None, event_id: str, event_type: str, change: MembershipChange | None = None
    ) -> Handled:
        """At-least-once safe: the event id's row makes a redelivery a no-op.

        Peer lookups happen before the transaction, so no row lock is held
        across a network call; a lookup failure raises and the queue retries.
        """
        async with self._uow.read() as repos:
            if await repos.event_seen(event_id):
                return Handled(True, 0)
            members = await repos.members(event.group) if event is not None and event.group else []
        people: list[_Recipient] = []
        actor: Profile | None = None
        if event is not None:
            if change is not None and change.group == event.group:
                members = [m for m in members if m != change.user] + ([change.user] if change.present else [])
            ids = domain.recipients(event, members)
            profiles = await self._directory.profiles(sorted({*ids, event.actor} - {""})) if ids else {}
            devices = await self._directory.devices(ids) if ids else {}
            actor = profiles.get(event.actor)
            people = [_Recipient(u, profiles.get(u), devices.get(u, [])) for u in ids]
        async with self._uow.transaction() as repos:
            if not await repos.claim_event(event_id, event_type):
                return Handled(True, 0)
            if change is not None:
                await repos.apply_membership(change)
            created = 0
            if event is not None:
                values = {
                    **event.attributes,
                    "what": event.attributes.get("description", ""),
                    "pack": event.attributes.get("pack_display_name", ""),
                    "actor": actor.display_name if actor else "",
                }
                for person in people:
                    created += await self._notify(repos, event, person, values)
        return Handled(False, created)

    async def _notify(
        self, repos: NotificationRepositories, event: Event, person: _Recipient, values: dict[str, str]
    ) -> int:
        prefs = await repos.preferences(person.user_id)
        in_app = prefs.enabled(event.type, Channel.IN_APP)
        channels = [c for c in _EXTERNAL if prefs.enabled(event.type, c)]
        targets = [(c, t) for c in channels for t in _targets(c, person)]
        if not in_app and not targets:
            return 0
        locale = prefs.locale or (person.profile.locale if person.profile else "")
        title, body = templates.render(event.type, locale, values)
        notification_id = await repos.insert_notification(
            user_id=person.user_id,
            event_id=event.id,
            event_type=event.type,
            title=title,
            body=body,
            deep_link=event.deep_link,
            group_id=event.group,
            actor=event.actor,
            in_app=in_app,
        )
        if notification_id is None:
            return 0
        # Sent later by the delivery loop: a slow or failing provider never holds up the inbox.
        for channel, target in targets:
            await repos.insert_delivery(
                notification_id, person.user_id, channel, target, title, body, event.deep_link
            )
        return 1

    # -- inbox ----------------------------------------------------------------------------

    async def inbox(
        self, user_id: str, *, unread_only: bool, after: list[Any] | None, limit: int
    ) -> list[Notification]:
        async with self._uow.read() as repos:
            return await repos.inbox(user_id, unread_only=unread_only, after=after, limit=limit)

    async def unread_count(self, user_id: str) -> int:
        async with self._uow.read() as repos:
            return await repos.unread_count(user_id)

    async def mark_read(
        self, user_id: str, *, ids: list[str] | None = None, before: datetime | None = None
    ) -> tuple[int, int]:
        async with self._uow.transaction() as repos:
            marked = await repos.mark_read(user_id, ids=ids, before=before)
            return marked, await repos.unread_count(user_id)

    # -- preferences ----------------------------------------------------------------------

    async def preferences(self, user_id: str) -> Preferences:
        async with self._uow.read() as repos:
            return await repos.preferences(user_id)

    async def update_preferences(
        self,
        user_id: str,
        *,
        switches: list[tuple[EventType, Channel, bool]] | None = None,
        reminder_hour: int | None = None,
        time_zone: str | None = None,
        locale: str | None = None,
        check_version: Callable[[Preferences], None] = lambda _: None,
    ) -> Preferences:
        for event_type, channel, enabled in switches or []:
            domain.check_switch(event_type, channel, enabled)
        if reminder_hour is not None and not 0 <= reminder_hour <= 23:
            raise InvalidArgument("preferences.reminder_hour", "must be 0..23")
        async with self._uow.transaction() as repos:
            current = await repos.preferences(user_id, lock=True)
            check_version(current)
            updated = replace(
                current,
                reminder_hour=current.reminder_hour if reminder_hour is None else reminder_hour,
                time_zone=current.time_zone if time_zone is None else domain.valid_time_zone(time_zone),
                locale=current.locale if locale is None else locale,
            )
            await repos.save_preferences(updated, switches or [])
            return await repos.preferences(user_id)

    # -- deliveries -----------------------------------------------------------------------

    async def send_due(
        self, sender: Sender, *, limit: int = 20, first_retry: timedelta = domain.FIRST_RETRY
    ) -> int:
        """Sends deliveries that are due; failures are retried with doubling waits, then given up."""
        async with self._uow.transaction() as repos:
            due = await repos.due_deliveries(limit)
            for d in due:
                try:
                    provider_id = await sender.send(
                        Outgoing(d.channel, d.target, d.title, d.body, d.deep_link)
                    )
                except Exception as err:
                    attempts = d.attempts + 1
                    retry = (
                        None
                        if domain.gives_up(attempts)
                        else domain.retry_delay(attempts, first_retry).total_seconds()
                    )
                    log.warning(
                        "delivery failed",
                        extra={"channel": d.channel, "attempts": attempts, "error": str(err)},
                    )
                    await repos.delivery_failed(d.id, f"{type(err).__name__}: {err}", retry_in_seconds=retry)
                else:
                    await repos.delivery_sent(d.id, provider_id)
            return len(due)

    # -- jobs -----------------------------------------------------------------------------

    def handles_job(self, job: str) -> bool:
        return job in _OWN_JOBS or job in self._external

    async def run_job(self, job: str, period_start: datetime) -> JobResult:
        """Once per (job, period): a completed run is a duplicate; a crashed one is run again."""
        if not self.handles_job(job):
            raise InvalidArgument("job_type", f"{job} is not handled here")
        async with self._uow.transaction() as repos:
            if not await repos.start_job(job, period_start):
                return JobResult(True)
        if job == "balance_reminders":
            result = await self._reminders(period_start)
        elif job == "purge_old_notifications":
            async with self._uow.transaction() as repos:
                result = JobResult(False, await repos.purge_read_before(period_start - PURGE_AFTER))
        else:
            result = JobResult(False, await self._external[job](period_start))
        async with self._uow.transaction() as repos:
            await repos.finish_job(
                job,
                period_start,
                {"processed": result.processed, "created": result.notifications_created},
            )
        return result

    async def _reminders(self, period_start: datetime) -> JobResult:
        """Members who owe at least the minimum, at their local reminder hour, once per local day."""
        processed = created = 0
        after = ""
        while True:
            async with self._uow.read() as repos:
                users = await repos.users_with_memberships(after, 200)
                prefs = await repos.preferences_of(users)
                groups_of: dict[str, list[str]] = {}
                for group_id, member in await repos.memberships_of(users):
                    groups_of.setdefault(member, []).append(group_id)
            if not users:
                return JobResult(False, processed, created)
            after = users[-1]
            due = [
                u
                for u in users
                if domain.reminder_due(prefs[u], period_start)
                and prefs[u].channels(EventType.BALANCE_REMINDER)
            ]
            for user in due:
                processed += 1
                owed: dict[str, int] = {}
                for group_id in groups_of.get(user, []):
                    for currency, net in (await self._balances.member_balance(group_id, user)).items():
                        owed[currency] = owed.get(currency, 0) + net
                worth = {c: n for c, n in owed.items() if domain.owes_enough(n, c)}
                if worth:
                    created += await self._remind(user, prefs[user], worth, period_start)

    async def _remind(
        self, user: str, prefs: Preferences, owed: dict[str, int], period_start: datetime
    ) -> int:
        day = prefs.local_day(period_start)
        profiles = await self._directory.profiles([user])
        devices = await self._directory.devices([user])
        person = _Recipient(user, profiles.get(user), devices.get(user, []))
        locale = prefs.locale or (person.profile.locale if person.profile else "")
        owed_text = ", ".join(money_format.format_money(-n, c, locale) for c, n in sorted(owed.items()))
        event = Event(
            id=f"reminder:{user}:{day}",
            type=EventType.BALANCE_REMINDER,
            occurred_at=period_start,
            subject="users/me/balances",
        )
        async with self._uow.transaction() as repos:
            if not await repos.claim_reminder_day(user, day):
                return 0
            return await self._notify(repos, event, person, {"owed": owed_text})
