"""The stack's outbox relay SIGKILLed again and again while events are written: every
event is published, and the consumer (the notification worker) applies each exactly once.

libs/tests/test_outbox_relay.py proves the relay alone against SNS; this one runs the
whole path (outbox -> relay -> SNS -> SQS -> consumer) on the fault stack's own processes.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid

import pytest
from hisaab.events.v1 import events_pb2 as ev

from libs import outbox
from libs.db.database import Database
from tests.faults.control import full_scale, restart_worker, service_process
from tools.devstack.stack import Stack

pytestmark = pytest.mark.faults

RELAY = "outbox-relay"
PER_TRANSACTION = 10


def _events() -> int:
    return 10_000 if full_scale() else 300


async def _write(db: Database, count: int) -> list[str]:
    """Events the consumer records and applies (a membership change) without notifying
    anyone: the member is also the actor, so no peer lookup can fail for a made-up user."""
    ids: list[str] = []
    for start in range(0, count, PER_TRANSACTION):
        async with db.transaction() as conn:
            for _ in range(start, min(count, start + PER_TRANSACTION)):
                group, user = str(uuid.uuid4()), str(uuid.uuid4())
                change = ev.MemberChanged(group=group, user=user, change=ev.ADDED)
                ids.append(await outbox.record(conn, change, f"groups/{group}", actor=user))
        await asyncio.sleep(0.02)  # spread the writes over the kills
    return ids


async def _count(db: Database, sql: str, ids: list[str]) -> int:
    async with db.read() as conn:
        return int((await conn.exec_driver_sql(sql, (ids,))).scalar_one())


@pytest.mark.timeout(3600 if full_scale() else 240)
async def test_relay_sigkilled_repeatedly_every_event_applied_once(fault_stack: Stack) -> None:
    total = _events()
    db = Database(fault_stack.database_url, pool_size=4)
    rng = random.Random(14)
    kills = 0
    try:
        writing = asyncio.create_task(_write(db, total))
        while not writing.done() or kills < 3:
            # Long enough for the restarted relay to publish a few batches before the next kill.
            await asyncio.sleep(rng.uniform(0.5, 1.5))
            relay = service_process(fault_stack, RELAY)
            relay.popen.kill()
            await asyncio.to_thread(relay.popen.wait)
            kills += 1
            await asyncio.to_thread(restart_worker, fault_stack, RELAY)
        ids = await writing
        unpublished = "SELECT count(*) FROM kit.outbox WHERE published_at IS NULL AND id::text = ANY(%s)"
        applied = "SELECT count(*) FROM notification.processed_events WHERE event_id::text = ANY(%s)"
        deadline = time.monotonic() + (1800 if full_scale() else 120)
        while await _count(db, applied, ids) < total:
            assert time.monotonic() < deadline, (
                await _count(db, unpublished, ids),
                await _count(db, applied, ids),
            )
            await asyncio.sleep(0.5)
        assert await _count(db, unpublished, ids) == 0
        assert await _count(db, applied, ids) == total  # each claimed once: a redelivery is a no-op
    finally:
        await db.close()
    assert kills >= 3
    assert len(set(ids)) == total
