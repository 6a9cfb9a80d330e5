"""notification-service's rules through its use cases, on the in-memory repositories (no
database, no queue): who hears about an event, redeliveries, the membership copy kept from
events, preferences, delivery retries, and jobs that run once per period. The SQL adapter
keeps its own tests on PostgreSQL (test_notification_usecases.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from libs.db.unit_of_work import MemoryUnitOfWork
from libs.errors import EtagMismatch, InvalidArgument
from services.notification import domain
from services.notification.domain import Channel, Event, EventType, MembershipChange, Preferences
from services.notification.tests.fakes import (
    FakeBalances,
    FakeDirectory,
    FakeSender,
    MemoryNotificationRepositories,
)
from services.notification.usecases import NotificationUseCases


class World:
    def __init__(self) -> None:
        self.uow = MemoryUnitOfWork(MemoryNotificationRepositories())
        self.directory = FakeDirectory()
        self.balances = FakeBalances()
        self.jobs: list[datetime] = []

        async def generate(period: datetime) -> int:
            self.jobs.append(period)
            return 3

        self.uc = NotificationUseCases(
            self.uow, self.directory, self.balances, external_jobs={"generate_recurring_expenses": generate}
        )
        self.seq = 0

    @property
    def repos(self) -> MemoryNotificationRepositories:
        return self.uow.repositories

    async def membership(self, group: str, user: str, present: bool = True, seq: int | None = None) -> None:
        self.seq += 1
        change = MembershipChange(group, user, present, self.seq if seq is None else seq)
        await self.uc.handle(None, str(uuid.uuid4()), "member.changed", change)

    async def group(self, *members: str) -> str:
        group = str(uuid.uuid4())
        for user in members:
            await self.membership(group, user)
        return group

    async def inbox(self, user: str) -> list[Any]:
        return await self.uc.inbox(user, unread_only=False, after=None, limit=50)


@pytest.fixture
def world() -> World:
    return World()


def _expense(group: str, actor: str, **fields: Any) -> Event:
    return Event(
        id=str(uuid.uuid4()),
        type=EventType.EXPENSE_ADDED,
        occurred_at=datetime(2031, 1, 1, tzinfo=UTC),
        actor=actor,
        group=group,
        subject=f"groups/{group}/expenses/e1",
        attributes={"description": "Chai", "amount_minor": "5000", "currency_code": "INR"},
        **fields,
    )


async def test_every_member_but_the_actor_hears_in_their_language(world: World) -> None:
    a, b, c = world.directory.add("Asha"), world.directory.add("Ravi", "hi-IN"), world.directory.add("Meera")
    group = await world.group(a, b, c)
    event = _expense(group, a)
    handled = await world.uc.handle(event, event.id, "expense.created")
    assert (handled.duplicate, handled.notifications_created) == (False, 2)
    assert await world.inbox(a) == []
    [hindi] = await world.inbox(b)
    assert hindi.title == "नया खर्च" and "Asha" in hindi.body and "Chai" in hindi.body
    assert hindi.deep_link == f"hisaab://groups/{group}/expenses/e1" and hindi.group_id == group
    # Push is on by default, SMS is not: one delivery each, to their device.
    targets = sorted(d.delivery.target for d in world.repos.deliveries.values())
    assert targets == sorted(f"ANDROID:tok-{u}" for u in (b, c))


async def test_a_redelivered_event_changes_nothing(world: World) -> None:
    a, b = world.directory.add("Asha"), world.directory.add("Ravi")
    group = await world.group(a, b)
    event = _expense(group, a)
    await world.uc.handle(event, event.id, "expense.created")
    again = await world.uc.handle(event, event.id, "expense.created")
    assert (again.duplicate, again.notifications_created) == (True, 0)
    assert len(await world.inbox(b)) == 1 and len(world.repos.deliveries) == 1


async def test_a_failed_handling_leaves_nothing_so_the_retry_does_it_all(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b, c = (world.directory.add(n) for n in ("Asha", "Ravi", "Meera"))
    group = await world.group(a, b, c)
    event = _expense(group, a)
    repos_type = type(world.repos)
    real = repos_type.insert_delivery
    calls = 0

    async def second_fails(self: MemoryNotificationRepositories, *args: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise ConnectionError("database went away")
        await real(self, *args)

    # On the class: the rollback replaces the repositories' objects with copies.
    monkeypatch.setattr(repos_type, "insert_delivery", second_fails)
    with pytest.raises(ConnectionError):
        await world.uc.handle(event, event.id, "expense.created")
    assert world.repos.notifications == {} and world.repos.deliveries == {}
    assert event.id not in world.repos.processed
    monkeypatch.undo()
    assert (await world.uc.handle(event, event.id, "expense.created")).notifications_created == 2


async def test_late_membership_events_do_not_undo_newer_ones(world: World) -> None:
    a, b = world.directory.add("Asha"), world.directory.add("Ravi")
    group = str(uuid.uuid4())
    await world.membership(group, b, present=False, seq=20)
    await world.membership(group, b, present=True, seq=10)  # older, delivered late
    await world.membership(group, a, seq=1)
    event = _expense(group, a)
    assert (await world.uc.handle(event, event.id, "expense.created")).notifications_created == 0
    assert await world.repos.members(group) == [a]


async def test_the_member_an_event_adds_hears_about_it(world: World) -> None:
    a, b = world.directory.add("Asha"), world.directory.add("Ravi")
    group = await world.group(a)
    added = Event(
        id=str(uuid.uuid4()),
        type=EventType.ADDED_TO_GROUP,
        occurred_at=datetime(2031, 1, 1, tzinfo=UTC),
        actor=a,
        group=group,
        recipients=(b,),
    )
    world.seq += 1
    handled = await world.uc.handle(
        added, added.id, "member.added", MembershipChange(group, b, True, world.seq)
    )
    assert handled.notifications_created == 1
    assert [n.event_type for n in await world.inbox(b)] == [EventType.ADDED_TO_GROUP]
    assert sorted(await world.repos.members(group)) == sorted([a, b])


async def test_placeholders_get_the_inbox_but_nothing_outside_the_app(world: World) -> None:
    a, ghost = world.directory.add("Asha"), world.directory.add("Kiran", placeholder=True)
    await world.uc.update_preferences(ghost, switches=[(EventType.EXPENSE_ADDED, Channel.SMS, True)])
    group = await world.group(a, ghost)
    event = _expense(group, a)
    await world.uc.handle(event, event.id, "expense.created")
    assert len(await world.inbox(ghost)) == 1 and world.repos.deliveries == {}


async def test_bad_preferences_are_refused_and_store_nothing(world: World) -> None:
    user = world.directory.add("Asha")
    with pytest.raises(InvalidArgument):  # in-app is always on for expenses
        await world.uc.update_preferences(user, switches=[(EventType.EXPENSE_ADDED, Channel.IN_APP, False)])
    with pytest.raises(InvalidArgument) as refused:
        await world.uc.update_preferences(user, reminder_hour=24)
    assert refused.value.field == "preferences.reminder_hour"
    assert world.repos.prefs == {}


async def test_preferences_keep_what_is_not_changed_and_bump_the_version(world: World) -> None:
    user = world.directory.add("Asha")
    assert (await world.uc.preferences(user)).version == 0
    first = await world.uc.update_preferences(
        user, switches=[(EventType.EXPENSE_ADDED, Channel.SMS, True)], time_zone="Europe/London"
    )
    second = await world.uc.update_preferences(user, reminder_hour=8)
    assert (second.version, second.reminder_hour, second.time_zone) == (2, 8, "Europe/London")
    assert second.enabled(EventType.EXPENSE_ADDED, Channel.SMS) and first.version == 1

    def stale(current: Preferences) -> None:
        if current.version != 1:
            raise EtagMismatch("stale")

    with pytest.raises(EtagMismatch):
        await world.uc.update_preferences(user, locale="hi-IN", check_version=stale)
    assert (await world.uc.preferences(user)).locale == ""
    with pytest.raises(InvalidArgument):
        await world.uc.update_preferences(user, time_zone="Mars/Olympus")


async def test_marking_read_counts_only_the_unread(world: World) -> None:
    a, b = world.directory.add("Asha"), world.directory.add("Ravi")
    group = await world.group(a, b)
    for _ in range(3):
        event = _expense(group, a)
        await world.uc.handle(event, event.id, "expense.created")
    newest, middle, _ = await world.inbox(b)
    assert await world.uc.unread_count(b) == 3
    assert await world.uc.mark_read(b, ids=[middle.id]) == (1, 2)
    assert await world.uc.mark_read(b, ids=[middle.id]) == (0, 2)
    assert await world.uc.mark_read(a, ids=[newest.id]) == (0, 0)  # not theirs
    assert await world.uc.mark_read(b, before=newest.created_at) == (2, 0)
    unread = await world.uc.inbox(b, unread_only=True, after=None, limit=10)
    assert unread == []


async def test_failed_deliveries_back_off_then_give_up_and_sent_ones_are_done(world: World) -> None:
    a, b = world.directory.add("Asha"), world.directory.add("Ravi")
    await world.uc.update_preferences(b, switches=[(EventType.EXPENSE_ADDED, Channel.SMS, True)])
    group = await world.group(a, b)
    event = _expense(group, a)
    await world.uc.handle(event, event.id, "expense.created")
    sender = FakeSender()
    sender.down = True
    assert await world.uc.send_due(sender) == 2  # push and SMS
    assert await world.uc.send_due(sender) == 0  # nothing due until the back-off passes
    rows = list(world.repos.deliveries.values())
    assert {(r.status, r.delivery.attempts) for r in rows} == {("pending", 1)}
    assert all(r.last_error == "ConnectionError: provider down" for r in rows)
    for _ in range(domain.MAX_DELIVERY_ATTEMPTS - 1):
        world.repos.clock.advance(domain.LONGEST_RETRY)
        await world.uc.send_due(sender)
    assert {r.status for r in world.repos.deliveries.values()} == {"failed"}
    assert sender.calls == 2 * domain.MAX_DELIVERY_ATTEMPTS
    assert len(await world.inbox(b)) == 1  # the inbox never depended on a provider

    other = _expense(group, b)
    await world.uc.handle(other, other.id, "expense.created")
    sender.down = False
    assert await world.uc.send_due(sender) == 1
    assert [m.target for m in sender.sent] == [f"ANDROID:tok-{a}"]
    assert await world.uc.send_due(sender) == 0


async def test_reminders_respect_preferences_the_minimum_and_once_a_day(world: World) -> None:
    owes, tiny, muted, owed = (world.directory.add(n) for n in ("Owes", "Tiny", "Muted", "Owed"))
    group = await world.group(owes, tiny, muted, owed)
    world.balances.nets = {
        (group, owes): {"INR": -250_00},
        (group, tiny): {"INR": -5_00},  # below the minimum
        (group, muted): {"INR": -900_00},
        (group, owed): {"INR": 1155_00},
    }
    await world.uc.update_preferences(
        muted,
        switches=[
            (EventType.BALANCE_REMINDER, Channel.IN_APP, False),
            (EventType.BALANCE_REMINDER, Channel.PUSH, False),
        ],
    )
    for user in (owes, tiny, muted, owed):
        await world.uc.update_preferences(user, time_zone="UTC", reminder_hour=13)
    slot = datetime(2031, 3, 4, 13, 0, tzinfo=UTC)
    first = await world.uc.run_job("balance_reminders", slot)
    assert (first.duplicate, first.processed, first.notifications_created) == (False, 3, 1)
    [reminder] = await world.inbox(owes)
    assert reminder.event_type is EventType.BALANCE_REMINDER and "₹250.00" in reminder.body
    for user in (tiny, muted, owed):
        assert await world.inbox(user) == []
    assert (await world.uc.run_job("balance_reminders", slot)).duplicate
    # Another slot the same local day after a preference change: still one a day.
    await world.uc.update_preferences(owes, reminder_hour=14)
    assert (await world.uc.run_job("balance_reminders", slot + timedelta(hours=1))).notifications_created == 0
    await world.uc.update_preferences(owes, reminder_hour=13)
    assert (await world.uc.run_job("balance_reminders", slot + timedelta(days=1))).notifications_created == 1


async def test_jobs_run_once_per_period_and_unknown_ones_are_refused(world: World) -> None:
    period = datetime(2031, 1, 1, 18, 35, tzinfo=UTC)
    assert (await world.uc.run_job("generate_recurring_expenses", period)).processed == 3
    assert (await world.uc.run_job("generate_recurring_expenses", period)).duplicate
    assert world.jobs == [period]
    assert world.repos.job_runs[("generate_recurring_expenses", period)] == {"processed": 3, "created": 0}
    with pytest.raises(InvalidArgument):
        await world.uc.run_job("weekly_digests", period)


async def test_a_crashed_job_runs_again(world: World) -> None:
    period = datetime(2031, 1, 2, tzinfo=UTC)

    async def crash(_: datetime) -> int:
        raise ConnectionError("expense-service down")

    world.uc = NotificationUseCases(
        world.uow, world.directory, world.balances, external_jobs={"generate_recurring_expenses": crash}
    )
    with pytest.raises(ConnectionError):
        await world.uc.run_job("generate_recurring_expenses", period)
    assert world.repos.job_runs[("generate_recurring_expenses", period)] is None  # started, not finished
    world.uc = NotificationUseCases(
        world.uow, world.directory, world.balances, external_jobs={"generate_recurring_expenses": _three}
    )
    assert (await world.uc.run_job("generate_recurring_expenses", period)).processed == 3


async def _three(_: datetime) -> int:
    return 3


async def test_purge_removes_only_old_read_notifications(world: World) -> None:
    a, b = world.directory.add("Asha"), world.directory.add("Ravi")
    group = await world.group(a, b)
    for _ in range(2):
        event = _expense(group, a)
        await world.uc.handle(event, event.id, "expense.created")
    newest, oldest = await world.inbox(b)
    await world.uc.mark_read(b, ids=[oldest.id])
    period = oldest.created_at + timedelta(days=90, microseconds=1)
    assert (await world.uc.run_job("purge_old_notifications", period)).processed == 1
    assert [n.id for n in await world.inbox(b)] == [newest.id]
