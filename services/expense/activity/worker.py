"""The activity worker: settlement, member and group events become group feed entries.

expense-service owns the feed (expense.activities); expense changes are written in its
own transactions, while the other services' changes arrive as their domain events on
the activity queue (subscribed to ``libs.aws.ACTIVITY_EVENTS`` only). Each event makes
one entry whose id comes from the event's id, so a redelivered message adds nothing.
Run: ``python -m services.expense.activity.worker``.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from libs import aws, events
from libs import settings as settings_mod
from libs.db.database import Database
from libs.db.unit_of_work import SqlUnitOfWork
from libs.events import EventMessage
from libs.jobs.queues import Handler, QueueConsumer
from libs.jobs.runtime import Heartbeat, run_worker
from services.expense.activity import entries
from services.expense.activity.usecases import FeedWriter
from services.expense.repository import SqlExpenseRepositories

log = logging.getLogger("hisaab.expense.activity")


def handler(writer: FeedWriter) -> Handler:
    async def handle(body: str) -> None:
        message = EventMessage.parse(body)
        typed = events.decode(message.type, message.payload)
        if typed is None:
            return  # a newer producer's event: acknowledged, not retried
        entry = entries.from_event(
            message.id, typed, message.actor, datetime.fromisoformat(message.occurred_at)
        )
        if entry is None:
            return
        written = await writer.record(entry)
        log.debug("activity", extra={"event": message.id, "type": message.type, "written": written})

    return handle


async def _main(stop: asyncio.Event, heartbeat: Heartbeat) -> None:
    resources = aws.Resources.from_env()
    resources.require("activity_queue_url")
    settings = settings_mod.load("expense")
    db = Database(
        settings.database_url, settings.database_reader_url, application_name="hisaab-activity-worker"
    )
    consumer = QueueConsumer.from_env(
        "activity",
        resources.activity_queue_url,
        handler(FeedWriter(SqlUnitOfWork(db, SqlExpenseRepositories))),
    )
    log.info("consuming", extra={"queue": resources.activity_queue_url})
    try:
        await consumer.run(stop, heartbeat)
    finally:
        await db.close()


if __name__ == "__main__":
    run_worker("activity-worker", _main)
