"""The activity worker's handler on the real database: a redelivered event is one entry."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from hisaab.events.v1 import events_pb2 as ev

from libs import events
from libs.db.database import Database
from libs.db.unit_of_work import SqlUnitOfWork
from libs.events import EventMessage
from services.expense.activity.entries import entry_id, from_event
from services.expense.activity.usecases import FeedWriter
from services.expense.activity.worker import handler
from services.expense.repository import SqlExpenseRepositories

pytestmark = pytest.mark.integration


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url, pool_size=2)
    yield database
    await database.close()


def _writer(db: Database) -> FeedWriter:
    return FeedWriter(SqlUnitOfWork(db, SqlExpenseRepositories))


def _message(group: str, payment: ev.SettlementChanged, actor: str) -> EventMessage:
    return EventMessage(
        id=str(uuid.uuid4()),
        seq=1,
        type=events.type_name(payment),
        aggregate=f"groups/{group}/settlements/{payment.settlement}",
        actor=actor,
        payload=events.encode(payment),
        occurred_at="2026-03-14T09:30:00+00:00",
    )


async def test_a_redelivered_event_makes_one_entry(db: Database) -> None:
    group, payer, payee = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    payment = ev.SettlementChanged(
        group=group,
        settlement=str(uuid.uuid4()),
        change=ev.CREATED,
        payer=payer,
        payee=payee,
        currency_code="INR",
        amount_minor=50000,
        transaction_date="2026-03-14",
    )
    message = _message(group, payment, payer)
    handle = handler(_writer(db))
    await handle(message.body())
    await handle(message.body())  # SQS delivers at least once

    async with db.read() as conn:
        found = await SqlExpenseRepositories(conn).activities([group], before=None, limit=10)
    [(_, entry)] = found
    assert entry.id == entry_id(message.id)
    assert (entry.verb, entry.actor, entry.currency, entry.amount_minor) == ("settled", payer, "INR", 50000)
    assert entry.effects == {payer: 50000, payee: -50000}
    assert entry.created_at == datetime(2026, 3, 14, 9, 30, tzinfo=UTC)

    # The writer says which delivery wrote the row.
    again = from_event(message.id, payment, payer, datetime.now(UTC))
    assert again is not None
    assert await _writer(db).record(again) is False


async def test_an_event_the_feed_does_not_show_is_acknowledged_without_a_row(db: Database) -> None:
    group = str(uuid.uuid4())
    rule = ev.RecurringRuleChanged(group=group, change=ev.CREATED)
    message = EventMessage(
        id=str(uuid.uuid4()),
        seq=1,
        type=events.type_name(rule),
        aggregate=f"groups/{group}",
        actor="u",
        payload=events.encode(rule),
        occurred_at="2026-03-14T09:30:00+00:00",
    )
    await handler(_writer(db))(message.body())  # returns: the message is deleted, not retried
    async with db.read() as conn:
        assert await SqlExpenseRepositories(conn).activities([group], before=None, limit=10) == []
