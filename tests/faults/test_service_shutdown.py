"""SIGTERM to an expense-service process with 200 creates in flight: every create completes,
or fails with a retriable error and lands exactly once when retried with its request_id."""

from __future__ import annotations

import asyncio
import signal
import time

import httpx
import pytest

from tests.faults.control import restart_service, service_process
from tests.faults.load import Create, Ledger, assert_retriable, until
from tests.support import Api
from tools.devstack.stack import Stack

pytestmark = pytest.mark.faults

IN_FLIGHT = 200
VICTIM = "expense-2"


async def _until_created(ledger: Ledger, client: httpx.AsyncClient, create: Create) -> None:
    deadline = time.monotonic() + 90
    while create.name is None:
        assert time.monotonic() < deadline, create.answers[-3:]
        answer = await ledger.send(client, create)
        if answer.status != 200:
            # What counts here is that nothing is lost or doubled; how long a crowded
            # machine takes to answer is the frozen-database test's business.
            assert_retriable(answer, in_time=False)
            await asyncio.sleep(0.1)


async def test_sigterm_with_creates_in_flight_loses_and_duplicates_none(
    fault_stack: Stack, fault_api: Api
) -> None:
    ledger = Ledger.open(fault_api)
    victim = service_process(fault_stack, VICTIM)
    creates = [Create(2 * (n % 50 + 1)) for n in range(IN_FLIGHT)]
    limits = httpx.Limits(max_connections=IN_FLIGHT, max_keepalive_connections=IN_FLIGHT)
    async with httpx.AsyncClient(base_url=fault_stack.rest_url, limits=limits) as client:
        tasks = [asyncio.create_task(_until_created(ledger, client, c)) for c in creates]
        try:
            await until(lambda: any(c.answers for c in creates), 60)  # the first answer: the rest in flight
            in_flight = sum(not c.answers for c in creates)
            victim.popen.send_signal(signal.SIGTERM)
            assert await asyncio.to_thread(victim.popen.wait, 60) == 0  # drained and exited cleanly
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            if not victim.alive():
                restart_service(fault_stack, VICTIM)
    assert in_flight >= IN_FLIGHT // 2, in_flight
    ledger.assert_whole(fault_api, creates)
