"""Use cases and the queue consumer on real PostgreSQL and the AWS emulator, with fakes at the peer ports.

A database of their own, so the stack's worker never picks up these rows.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from libs import aws
from libs.db import migrate
from libs.db.database import Database
from libs.db.unit_of_work import SqlUnitOfWork
from libs.jobs.queues import QueueConsumer
from services.notification import domain
from services.notification.domain import Channel, Event, EventType, MembershipChange
from services.notification.ports import Outgoing
from services.notification.repository import SqlNotificationRepositories
from services.notification.tests.fakes import FakeBalances, FakeDirectory
from services.notification.usecases import NotificationUseCases
from tools.devstack.postgres import create_database, drop_database
from tools.devstack.stack import Stack

pytestmark = [pytest.mark.integration, pytest.mark.clock]


class FailingSender:
    def __init__(self) -> None:
        self.calls = 0

    async def send(self, message: Outgoing) -> str:
        self.calls += 1
        raise ConnectionError("provider down")


@pytest.fixture(scope="module")
def own_database(stack: Stack) -> Iterator[str]:
    assert stack.postgres is not None
    name = f"notif_{uuid.uuid4().hex[:10]}"
    url = create_database(stack.postgres.admin_url, name)
    migrate.upgrade(url)
    yield url
    drop_database(stack.postgres.admin_url, name)


@pytest.fixture
async def db(own_database: str) -> AsyncIterator[Database]:
    database = Database(own_database, pool_size=10)
    yield database
    await database.close()


@pytest.fixture
def directory() -> FakeDirectory:
    return FakeDirectory()


@pytest.fixture
def balances() -> FakeBalances:
    return FakeBalances()


@pytest.fixture
def uc(db: Database, directory: FakeDirectory, balances: FakeBalances) -> NotificationUseCases:
    return NotificationUseCases(SqlUnitOfWork(db, SqlNotificationRepositories), directory, balances)


async def _group(uc: NotificationUseCases, *members: str) -> str:
    group = str(uuid.uuid4())
    for seq, user in enumerate(members, start=1):
        change = MembershipChange(group, user, True, seq)
        await uc.handle(None, str(uuid.uuid4()), "member.joined", change)
    return group


def _expense_event(group: str, actor: str) -> Event:
    return Event(
        id=str(uuid.uuid4()),
        type=EventType.EXPENSE_ADDED,
        occurred_at=datetime.now(UTC),
        actor=actor,
        group=group,
        subject=f"groups/{group}/expenses/e1",
        attributes={"description": "Chai", "amount_minor": "5000", "currency_code": "INR"},
    )


async def test_concurrent_redeliveries_create_one_notification_each(
    uc: NotificationUseCases, directory: FakeDirectory
) -> None:
    a, b, c = directory.add("Asha"), directory.add("Ravi", "hi-IN"), directory.add("Meera")
    group = await _group(uc, a, b, c)
    event = _expense_event(group, a)
    results = await asyncio.gather(*(uc.handle(event, event.id, "expense.created") for _ in range(5)))
    assert sum(r.notifications_created for r in results) == 2
    assert sum(not r.duplicate for r in results) == 1
    for user in (b, c):
        assert len(await uc.inbox(user, unread_only=False, after=None, limit=10)) == 1
    assert await uc.inbox(a, unread_only=False, after=None, limit=10) == []
    hindi = (await uc.inbox(b, unread_only=False, after=None, limit=10))[0]
    assert hindi.title == "नया खर्च" and "Asha" in hindi.body and "Chai" in hindi.body


async def test_removed_member_hears_nothing_even_if_the_removal_arrives_first(
    uc: NotificationUseCases, directory: FakeDirectory
) -> None:
    a, b = directory.add("Asha"), directory.add("Ravi")
    group = str(uuid.uuid4())
    await uc.handle(None, str(uuid.uuid4()), "member.removed", MembershipChange(group, b, False, 20))
    await uc.handle(
        None, str(uuid.uuid4()), "member.added", MembershipChange(group, b, True, 10)
    )  # older, late
    await uc.handle(None, str(uuid.uuid4()), "group.created", MembershipChange(group, a, True, 1))
    event = _expense_event(group, a)
    assert (await uc.handle(event, event.id, "expense.created")).notifications_created == 0


async def test_failed_deliveries_back_off_then_give_up_without_touching_the_inbox(
    uc: NotificationUseCases, directory: FakeDirectory, db: Database
) -> None:
    a, b = directory.add("Asha"), directory.add("Ravi")
    await uc.update_preferences(b, switches=[(EventType.EXPENSE_ADDED, Channel.SMS, True)])
    group = await _group(uc, a, b)
    event = _expense_event(group, a)
    await uc.handle(event, event.id, "expense.created")
    assert (
        len(await uc.inbox(b, unread_only=True, after=None, limit=10)) == 1
    )  # inbox first, whatever happens
    async with db.transaction() as conn:  # other tests' rows share this database
        await conn.execute(
            text("UPDATE notification.deliveries SET status = 'sent' WHERE user_id <> :u"), {"u": b}
        )
    sender = FailingSender()
    assert await uc.send_due(sender) == 2  # push and SMS
    assert await uc.send_due(sender) == 0  # nothing due until the backoff passes
    async with db.read() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT status, attempts, next_attempt_at - now() AS wait FROM notification.deliveries "
                    "WHERE user_id = :u"
                ),
                {"u": b},
            )
        ).all()
    assert {r.status for r in rows} == {"pending"} and {r.attempts for r in rows} == {1}
    assert all(timedelta(seconds=3) < r.wait <= timedelta(seconds=5) for r in rows)
    for _ in range(domain.MAX_DELIVERY_ATTEMPTS):
        async with db.transaction() as conn:
            await conn.execute(
                text("UPDATE notification.deliveries SET next_attempt_at = now() WHERE user_id = :u"),
                {"u": b},
            )
        await uc.send_due(sender)
    async with db.read() as conn:
        statuses = {
            r[0]
            for r in await conn.execute(
                text("SELECT status FROM notification.deliveries WHERE user_id = :u"), {"u": b}
            )
        }
    assert statuses == {"failed"}
    assert sender.calls == 2 * domain.MAX_DELIVERY_ATTEMPTS
    assert len(await uc.inbox(b, unread_only=True, after=None, limit=10)) == 1


async def test_reminders_respect_preferences_minimum_and_once_a_day(
    uc: NotificationUseCases, directory: FakeDirectory, balances: FakeBalances
) -> None:
    owes, tiny, muted, owed = (directory.add(n) for n in ("Owes", "Tiny", "Muted", "Owed"))
    group = await _group(uc, owes, tiny, muted, owed)
    balances.nets = {
        (group, owes): {"INR": -250_00},
        (group, tiny): {"INR": -5_00},  # below the minimum
        (group, muted): {"INR": -900_00},
        (group, owed): {"INR": 1155_00},
    }
    await uc.update_preferences(
        muted,
        switches=[
            (EventType.BALANCE_REMINDER, Channel.IN_APP, False),
            (EventType.BALANCE_REMINDER, Channel.PUSH, False),
        ],
    )
    # 19:00 in Kolkata is 13:30 UTC; reminders run hourly on the hour, so use a zone on the hour.
    for user in (owes, tiny, muted, owed):
        await uc.update_preferences(user, time_zone="UTC", reminder_hour=13)
    slot = datetime(2031, 3, 4, 13, 0, tzinfo=UTC)
    first = await uc.run_job("balance_reminders", slot)
    assert first.notifications_created == 1 and not first.duplicate
    inbox = await uc.inbox(owes, unread_only=False, after=None, limit=10)
    assert [n.event_type for n in inbox] == [EventType.BALANCE_REMINDER] and "₹250.00" in inbox[0].body
    for user in (tiny, muted, owed):
        assert await uc.inbox(user, unread_only=False, after=None, limit=10) == []

    assert (await uc.run_job("balance_reminders", slot)).duplicate  # same (job, period)

    # Same local day, another slot that matches after a preference change: still one a day.
    await uc.update_preferences(owes, reminder_hour=14)
    later = await uc.run_job("balance_reminders", slot + timedelta(hours=1))
    assert later.notifications_created == 0
    # The next day it comes again.
    await uc.update_preferences(owes, reminder_hour=13)
    assert (await uc.run_job("balance_reminders", slot + timedelta(days=1))).notifications_created == 1


async def test_external_job_runs_once_per_period(
    db: Database, directory: FakeDirectory, balances: FakeBalances
) -> None:
    calls: list[datetime] = []

    async def generate(period: datetime) -> int:
        calls.append(period)
        return 3

    uc = NotificationUseCases(
        SqlUnitOfWork(db, SqlNotificationRepositories),
        directory,
        balances,
        external_jobs={"generate_recurring_expenses": generate},
    )
    period = datetime(2031, 1, 1, 18, 35, tzinfo=UTC) + timedelta(minutes=int(uuid.uuid4().int % 1000))
    assert (await uc.run_job("generate_recurring_expenses", period)).processed == 3
    assert (await uc.run_job("generate_recurring_expenses", period)).duplicate
    assert calls == [period]


def test_poison_message_lands_in_the_dlq_after_max_receives(stack: Stack) -> None:
    assert stack.aws is not None
    where = {
        "endpoint": stack.aws.endpoint_url,
        "region_name": stack.aws.env["AWS_REGION"],
        "credentials": stack.aws.env,
    }
    resources = aws.bootstrap(f"poison-{uuid.uuid4().hex[:8]}", **where)  # type: ignore[arg-type]
    sqs = aws.make_client("sqs", **where)  # type: ignore[arg-type]
    seen: list[str] = []

    async def handle(body: str) -> None:
        seen.append(body)
        raise ValueError("cannot parse")

    # Zero backoff so the test does not wait; the worker doubles from HISAAB_QUEUE_RETRY_BASE_SECONDS.
    consumer = QueueConsumer(
        "events", resources.notification_queue_url, handle, sqs=sqs, wait_seconds=1, retry_base_seconds=0
    )
    sqs.send_message(QueueUrl=resources.notification_queue_url, MessageBody="{not json")
    dlq = aws.dlq_url(resources.notification_queue_url, sqs)
    dead: list[Any] = []
    for _ in range(30):
        asyncio.run(consumer.poll_once())
        dead = sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=0).get("Messages", [])
        if dead:
            break
    assert [m["Body"] for m in dead] == ["{not json"]
    assert len(seen) == aws.MAX_RECEIVES
