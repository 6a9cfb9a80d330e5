"""notification-service's background process: the events queue, the jobs queue, and deliveries.

Three loops in one asyncio process, sharing the use cases with the gRPC server:

- events: long-polls the notification queue; each message is one domain event
  (raw SNS delivery, so the body is the relay's JSON envelope; its payload is
  decoded into the contract's typed message, libs.events). A handled message is
  deleted; a failed one is made visible again after a doubling delay, and
  after ``aws.MAX_RECEIVES`` receives SQS moves it to the dead-letter queue.
- jobs: the same for job messages (EventBridge Scheduler / the local scheduler).
- deliveries: sends the push/SMS/email rows the event handler wrote.

boto3 calls run in threads (``asyncio.to_thread``) so a 5 s long poll never
stalls the other loops.

Run: ``python -m services.notification.worker``.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from libs import aws, events
from libs.events import EventMessage
from libs.jobs.messages import JobMessage
from libs.jobs.queues import Handler, QueueConsumer
from libs.jobs.runtime import Heartbeat, run_worker, sleep_or_stop
from libs.settings import env_float
from services.notification import domain
from services.notification.app import assemble
from services.notification.delivery import AwsSender
from services.notification.ports import Sender
from services.notification.usecases import NotificationUseCases

log = logging.getLogger("hisaab.notification.worker")


def event_handler(usecases: NotificationUseCases) -> Handler:
    async def handle(body: str) -> None:
        message = EventMessage.parse(body)
        occurred = datetime.fromisoformat(message.occurred_at)
        typed = events.decode(message.type, message.payload)
        event, change = None, None
        if typed is not None:  # an event this code does not know is acknowledged, not retried
            event = domain.from_event(message.id, typed, message.aggregate, message.actor, occurred)
            change = domain.membership_change(typed, message.actor, message.seq)
        await usecases.handle(event, message.id, message.type, change)

    return handle


def job_handler(usecases: NotificationUseCases) -> Handler:
    async def handle(body: str) -> None:
        message = JobMessage.parse(body)
        result = await usecases.run_job(message.job, message.scheduled_time)
        log.info(
            "job ran",
            extra={"job": message.job, "duplicate": result.duplicate, "processed": result.processed},
        )

    return handle


async def deliver(
    usecases: NotificationUseCases, sender: Sender, stop: asyncio.Event, heartbeat: Heartbeat
) -> None:
    idle = env_float("HISAAB_DELIVERY_POLL_SECONDS", 1.0)
    first_retry = timedelta(
        seconds=env_float("HISAAB_DELIVERY_RETRY_BASE_SECONDS", domain.FIRST_RETRY.total_seconds())
    )
    while not stop.is_set():
        heartbeat.beat()
        try:
            sent = await usecases.send_due(sender, first_retry=first_retry)
        except Exception:
            log.exception("delivery pass failed")
            sent = 0
        if not sent:
            await sleep_or_stop(stop, idle)


async def _main(stop: asyncio.Event, heartbeat: Heartbeat) -> None:
    resources = aws.Resources.from_env()
    resources.require("notification_queue_url", "jobs_queue_url")
    parts = assemble(pool_size=5, name="hisaab-notification-worker")
    events = QueueConsumer.from_env("events", resources.notification_queue_url, event_handler(parts.usecases))
    jobs = QueueConsumer.from_env("jobs", resources.jobs_queue_url, job_handler(parts.usecases))
    log.info(
        "consuming", extra={"events": resources.notification_queue_url, "jobs": resources.jobs_queue_url}
    )
    try:
        await asyncio.gather(
            events.run(stop, heartbeat),
            jobs.run(stop, heartbeat),
            deliver(parts.usecases, AwsSender(resources), stop, heartbeat),
        )
    finally:
        await parts.close()
        log.info("stopped", extra={"at": datetime.now(UTC).isoformat()})


if __name__ == "__main__":
    run_worker("notification-worker", _main)
