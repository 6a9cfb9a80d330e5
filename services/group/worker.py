"""The group worker: a person's profile change reaches the group change feed.

A member's display name and state (ACTIVE, INVITED) come from their profile in
auth-service, and a friend ledger is named after the friend; the feed hands out rows by
the transaction that last wrote them. auth-service publishes ``user.updated`` when a
field other members see changes and ``user.activated`` when an invited placeholder
signs in; the group queue is subscribed to exactly those (``libs.aws.GROUP_EVENTS``),
and each one writes the person's member rows and friend ledgers again
(``ProfileChanges``), those last written before the change (a row written since goes
out with the new profile anyway). A redelivered message finds nothing left to mark.
Run: ``python -m services.group.worker``.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from hisaab.events.v1 import events_pb2 as ev

from libs import aws, events
from libs import settings as settings_mod
from libs.db.database import Database
from libs.db.unit_of_work import SqlUnitOfWork
from libs.events import EventMessage
from libs.jobs.queues import Handler, QueueConsumer
from libs.jobs.runtime import Heartbeat, run_worker
from services.group.repository import SqlGroupRepositories
from services.group.usecases import ProfileChanges

log = logging.getLogger("hisaab.group.worker")


def changed_user(message: EventMessage) -> str | None:
    """The person whose profile an event changed; None for any other event (acknowledged)."""
    typed = events.decode(message.type, message.payload)
    if isinstance(typed, ev.UserUpdated | ev.UserActivated):
        return typed.user or None
    return None


def handler(profiles: ProfileChanges) -> Handler:
    async def handle(body: str) -> None:
        message = EventMessage.parse(body)
        user = changed_user(message)
        if user is None:
            return  # not ours, or a newer producer's event: acknowledged, not retried
        members, friend_ledgers = await profiles.mark(user, datetime.fromisoformat(message.occurred_at))
        log.debug(
            "profile changed",
            extra={"event": message.id, "type": message.type, "members": members, "direct": friend_ledgers},
        )

    return handle


async def _main(stop: asyncio.Event, heartbeat: Heartbeat) -> None:
    resources = aws.Resources.from_env()
    resources.require("group_queue_url")
    settings = settings_mod.load("group")
    db = Database(settings.database_url, settings.database_reader_url, application_name="hisaab-group-worker")
    consumer = QueueConsumer.from_env(
        "group", resources.group_queue_url, handler(ProfileChanges(SqlUnitOfWork(db, SqlGroupRepositories)))
    )
    log.info("consuming", extra={"queue": resources.group_queue_url})
    try:
        await consumer.run(stop, heartbeat)
    finally:
        await db.close()


if __name__ == "__main__":
    run_worker("group-worker", _main)
