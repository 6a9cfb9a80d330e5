"""SQS consumers shared by the workers: long poll, handle, delete; on failure a doubling delay.

A handled message is deleted. A failed one is made visible again after
``base * 2^(receives-1)`` seconds (capped), and after ``aws.MAX_RECEIVES``
receives SQS moves it to the queue's dead-letter queue. boto3 calls run in
threads so a long poll never stalls the worker's other loops.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from libs import aws, telemetry
from libs.jobs.runtime import Heartbeat, sleep_or_stop
from libs.metrics.queues import QueueMetrics
from libs.retry import backoff
from libs.settings import env_float

log = logging.getLogger("hisaab.queues")

Handler = Callable[[str], Awaitable[None]]


def retry_visibility(receive_count: int, base: float, longest: float = 900.0) -> int:
    """Seconds until a failed message is tried again: base, 2 * base, 4 * base ... capped."""
    return int(backoff(receive_count, base, longest))


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
        self._metrics = QueueMetrics(name)

    @classmethod
    def from_env(cls, name: str, queue_url: str, handle: Handler) -> QueueConsumer:
        """A consumer with the deployment's long-poll wait (``HISAAB_QUEUE_WAIT_SECONDS``)
        and retry back-off base (``HISAAB_QUEUE_RETRY_BASE_SECONDS``)."""
        return cls(
            name,
            queue_url,
            handle,
            wait_seconds=int(env_float("HISAAB_QUEUE_WAIT_SECONDS", 5)),
            retry_base_seconds=env_float("HISAAB_QUEUE_RETRY_BASE_SECONDS", 5.0),
        )

    async def poll_once(self) -> int:
        answer = await asyncio.to_thread(
            self._sqs.receive_message,
            QueueUrl=self._queue,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=self._wait,
            AttributeNames=["ApproximateReceiveCount", "SentTimestamp"],
            MessageAttributeNames=["All"],
        )
        messages = answer.get("Messages", [])
        self._metrics.received([int(m.get("Attributes", {}).get("SentTimestamp", 0)) or 0 for m in messages])
        await asyncio.gather(*(self._one(m) for m in messages))
        return len(messages)

    async def _one(self, message: dict[str, Any]) -> None:
        receives = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
        started = time.perf_counter()
        try:
            with telemetry.consuming(self.name, message.get("MessageAttributes", {})):
                await self._handle(message["Body"])
        except Exception as err:
            self._metrics.done("dead_lettered" if receives >= aws.MAX_RECEIVES else "retried", started)
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
        self._metrics.done("handled", started)
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
