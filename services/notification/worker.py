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
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from libs import aws, events
from libs.events import EventMessage
from libs.jobs.messages import JobMessage
from libs.jobs.runtime import Heartbeat, run_worker, sleep_or_stop
from libs.settings import env_float
from services.notification import domain
from services.notification.app import assemble
from services.notification.delivery import AwsSender
from services.notification.ports import Sender
from services.notification.usecases import NotificationUseCases

log = logging.getLogger("hisaab.notification.worker")

Handler = Callable[[str], Awaitable[None]]


def retry_visibility(receive_count: int, base: float, longest: float = 900.0) -> int:
    """Seconds until a failed message is tried again: base, 2 * base, 4 * base ... capped."""
    return int(domain.backoff(receive_count, base, longest))


class QueueConsumer:
    def __init__(
        self,
        name: str,
        queue_url: str,
        handle: Handler,
        *,
        sqs: Any | None = None,
        wait_seconds: int = 5,
        retry_base_seconds: float = 5.0,
    ):
        self.name = name
        self._queue = queue_url
        self._handle = handle
        self._sqs = sqs or aws.client("sqs")
        self._wait = wait_seconds
        self._retry_base = retry_base_seconds

    async def poll_once(self) -> int:
        answer = await asyncio.to_thread(
            self._sqs.receive_message,
            QueueUrl=self._queue,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=self._wait,
            AttributeNames=["ApproximateReceiveCount"],
            MessageAttributeNames=["All"],
        )
        messages = answer.get("Messages", [])
        await asyncio.gather(*(self._one(m) for m in messages))
        return len(messages)

    async def _one(self, message: dict[str, Any]) -> None:
        receives = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
        try:
            await self._handle(message["Body"])
        except Exception as err:
            delay = retry_visibility(receives, self._retry_base)
            log.warning(
                "message failed; retrying later",
                extra={"queue": self.name, "receives": receives, "retry_in": delay, "error": repr(err)},
            )
            await asyncio.to_thread(
                self._sqs.change_message_visibility,
                QueueUrl=self._queue,
                ReceiptHandle=message["ReceiptHandle"],
                VisibilityTimeout=delay,
            )
            return
        await asyncio.to_thread(
            self._sqs.delete_message, QueueUrl=self._queue, ReceiptHandle=message["ReceiptHandle"]
        )

    async def run(self, stop: asyncio.Event, heartbeat: Heartbeat) -> None:
        while not stop.is_set():
            heartbeat.beat()
            try:
                await self.poll_once()
            except Exception:
                log.exception("polling %s failed", self.name)
                await sleep_or_stop(stop, 2.0)


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
    while not stop.is_set():
        heartbeat.beat()
        try:
            sent = await usecases.send_due(sender)
        except Exception:
            log.exception("delivery pass failed")
            sent = 0
        if not sent:
            await sleep_or_stop(stop, idle)


async def _main(stop: asyncio.Event, heartbeat: Heartbeat) -> None:
    resources = aws.Resources.from_env()
    resources.require("notification_queue_url", "jobs_queue_url")
    parts = assemble(pool_size=5, name="hisaab-notification-worker")
    wait = int(env_float("HISAAB_QUEUE_WAIT_SECONDS", 5))
    base = env_float("HISAAB_QUEUE_RETRY_BASE_SECONDS", 5.0)
    events = QueueConsumer(
        "events",
        resources.notification_queue_url,
        event_handler(parts.usecases),
        wait_seconds=wait,
        retry_base_seconds=base,
    )
    jobs = QueueConsumer(
        "jobs",
        resources.jobs_queue_url,
        job_handler(parts.usecases),
        wait_seconds=wait,
        retry_base_seconds=base,
    )
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
