"""The outbox relay: publishes ``kit.outbox`` rows to the events SNS topic, at least once.

Each pass, in one transaction: claim the oldest unpublished rows with
``FOR UPDATE SKIP LOCKED`` (so any number of relays share the work without
waiting on each other), publish them, and mark published only the rows SNS
accepted. A relay killed mid-pass never commits, so its rows are unlocked and
published again by the next pass: duplicates are possible, loss is not, and
consumers dedupe by the event id every message carries.

Run: ``python -m libs.jobs.outbox_relay`` (needs DATABASE_URL, HISAAB_EVENTS_TOPIC_ARN).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from libs import aws, telemetry
from libs.db.database import Database
from libs.events import EventMessage
from libs.jobs.runtime import Heartbeat, run_worker, sleep_or_stop
from libs.metrics.outbox import OutboxGauges
from libs.settings import env_var

log = logging.getLogger("hisaab.outbox_relay")

BATCH_SIZE = 100
SNS_BATCH = 10  # PublishBatch takes at most ten entries
IDLE_POLL_SECONDS = 0.2
MAX_BACKOFF_SECONDS = 10.0


class Publisher(Protocol):
    async def publish(self, events: Sequence[EventMessage]) -> set[str]:
        """Publishes; returns the ids the broker accepted (the rest stay unpublished)."""


class SnsPublisher:
    def __init__(self, topic_arn: str, sns: Any | None = None):
        self._topic = topic_arn
        self._sns = sns or aws.client("sns")

    def _publish_chunk(self, chunk: Sequence[EventMessage]) -> set[str]:
        try:
            answer = self._sns.publish_batch(
                TopicArn=self._topic,
                PublishBatchRequestEntries=[
                    {"Id": str(i), "Message": e.body(), "MessageAttributes": e.attributes()}
                    for i, e in enumerate(chunk)
                ],
            )
        except Exception:  # the whole call failed: nothing was accepted
            log.warning("SNS publish failed", exc_info=True)
            return set()
        for failed in answer.get("Failed", []):
            log.warning(
                "SNS refused an event", extra={"code": failed.get("Code"), "why": failed.get("Message")}
            )
        return {chunk[int(ok["Id"])].id for ok in answer.get("Successful", [])}

    async def publish(self, events: Sequence[EventMessage]) -> set[str]:
        chunks = [events[i : i + SNS_BATCH] for i in range(0, len(events), SNS_BATCH)]
        # boto3 is blocking; the chunks go out in parallel threads.
        results = await asyncio.gather(*(asyncio.to_thread(self._publish_chunk, c) for c in chunks))
        return set().union(*results)


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


class OutboxRelay:
    def __init__(self, engine: AsyncEngine, publisher: Publisher, *, batch_size: int = BATCH_SIZE):
        self._engine = engine
        self._publisher = publisher
        self._batch = batch_size
        self.gauges = OutboxGauges()

    async def relay_once(self) -> tuple[int, int]:
        """One pass; returns (rows claimed, rows published)."""
        async with self._engine.begin() as conn:
            rows = (
                await conn.execute(
                    text(
                        "SELECT id, seq, event_type, aggregate, actor, payload, created_at, traceparent "
                        "FROM kit.outbox "
                        "WHERE published_at IS NULL ORDER BY seq LIMIT :n FOR UPDATE SKIP LOCKED"
                    ),
                    {"n": self._batch},
                )
            ).all()
            if not rows:
                return 0, 0
            # Each event's publish joins the trace of the request that wrote it.
            spans = [telemetry.producing(r.traceparent, "events") for r in rows]
            events = [
                EventMessage(
                    id=str(r.id),
                    seq=int(r.seq),
                    type=r.event_type,
                    aggregate=r.aggregate,
                    actor=r.actor,
                    payload=r.payload,
                    occurred_at=_iso(r.created_at),
                    trace=headers,
                )
                for r, (_, headers) in zip(rows, spans, strict=True)
            ]
            accepted: set[str] = set()
            try:
                accepted = await self._publisher.publish(events)
            finally:
                for (span, _), event in zip(spans, events, strict=True):
                    telemetry.end_producing(span, event.id in accepted)
            if accepted:
                await conn.execute(
                    text("UPDATE kit.outbox SET published_at = now() WHERE id = ANY(CAST(:ids AS uuid[]))"),
                    {"ids": sorted(accepted)},
                )
        self.gauges.published(e.type for e in events if e.id in accepted)
        return len(rows), len(accepted)

    async def run(self, stop: asyncio.Event, heartbeat: Heartbeat | None = None) -> None:
        backoff = 0.0
        while not stop.is_set():
            if heartbeat:
                heartbeat.beat()
            try:
                if self.gauges.due():
                    await self.gauges.probe(self._engine)
                claimed, published = await self.relay_once()
            except Exception:
                log.exception("relay pass failed")
                claimed, published = 1, 0
            if claimed and published < claimed:
                # The broker (or the database) is failing: back off instead of hammering it.
                backoff = min(MAX_BACKOFF_SECONDS, max(0.5, backoff * 2))
                await sleep_or_stop(stop, backoff)
            elif claimed < self._batch:
                backoff = 0.0
                await sleep_or_stop(stop, IDLE_POLL_SECONDS)
            else:
                backoff = 0.0  # a full batch: more is probably waiting


async def _main(stop: asyncio.Event, heartbeat: Heartbeat) -> None:
    resources = aws.Resources.from_env()
    resources.require("events_topic_arn")
    db = Database(env_var("DATABASE_URL"), pool_size=2, application_name="hisaab-outbox-relay")
    relay = OutboxRelay(db.writer, SnsPublisher(resources.events_topic_arn))
    log.info("relaying", extra={"topic": resources.events_topic_arn})
    try:
        await relay.run(stop, heartbeat)
    finally:
        await db.close()


if __name__ == "__main__":
    run_worker("outbox-relay", _main)
