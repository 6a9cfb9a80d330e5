"""PostgreSQL frozen and restarted under create load: clients hear a retriable error
in time, nothing is half-written, and the services recover on their own."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from tests.faults.control import REQUEST_BUDGET_SECONDS, postgres_frozen
from tests.faults.load import Answer, Create, Ledger, assert_retriable, until
from tests.support import Api, random_phone
from tools.devstack.stack import Stack

pytestmark = pytest.mark.faults

FREEZE_SECONDS = 5.0
WRITERS = 6
# From SIGCONT to every writer's next success; the pools replace what the freeze broke.
RECOVERY_SECONDS = 10.0


async def _writers_until(
    ledger: Ledger, client: httpx.AsyncClient, creates: list[Create], done: asyncio.Event
) -> None:
    async def writer(n: int) -> None:
        amount = 2 * (n + 1)
        while not done.is_set():
            create = Create(amount)
            creates.append(create)
            await ledger.send(client, create)

    await asyncio.gather(*(writer(n) for n in range(WRITERS)))


async def _retry_until_created(ledger: Ledger, client: httpx.AsyncClient, create: Create) -> None:
    deadline = time.monotonic() + 60
    while create.name is None:
        assert time.monotonic() < deadline, create.answers[-3:]
        answer = await ledger.send(client, create)
        if answer.status != 200:
            assert_retriable(answer)
            await asyncio.sleep(0.2)


async def _every_service_answers(ledger: Ledger, client: httpx.AsyncClient) -> None:
    """Each service's pool dropped its dead connections: after at most a retriable error or
    two, every service serves again (auth, group, settlement, pricing, notification)."""
    headers = {"authorization": f"Bearer {ledger.owner.access_token}"}
    calls = [
        ("POST", "/v1/auth:startSignIn", {"phoneNumber": random_phone()}),
        ("GET", "/v1/groups", None),
        ("GET", "/v1/users/me/balances", None),
        ("GET", "/v1/packs", None),
        ("GET", "/v1/users/me/notifications", None),
    ]
    for method, path, body in calls:
        deadline = time.monotonic() + RECOVERY_SECONDS
        while True:
            sent = time.monotonic()
            got = await client.request(method, path, json=body, headers=headers, timeout=30)
            if got.status_code == 200:
                break
            assert_retriable(Answer(got.status_code, got.json(), sent, time.monotonic() - sent))
            assert time.monotonic() < deadline, (path, got.text)
            await asyncio.sleep(0.2)


def _first_success_after(answers: list[Answer], instant: float) -> float | None:
    times = [a.sent + a.seconds for a in answers if a.status == 200 and a.sent >= instant]
    return min(times) - instant if times else None


async def test_frozen_postgres_costs_retriable_answers_then_recovers(
    fault_stack: Stack, fault_api: Api
) -> None:
    ledger = Ledger.open(fault_api)
    creates: list[Create] = []
    done = asyncio.Event()
    async with httpx.AsyncClient(base_url=fault_stack.rest_url) as client:
        load = asyncio.create_task(_writers_until(ledger, client, creates, done))
        try:
            await until(lambda: sum(c.name is not None for c in creates) >= 2 * WRITERS, 60)  # load flows
            with postgres_frozen(fault_stack):
                frozen_at = time.monotonic()
                # A create sent while the database is surely frozen (the writers' own may all
                # have left just before it froze, and wait out their budget): its answer is
                # the signal that a client hears in time.
                probe = Create(2 * (WRITERS + 1))
                creates.append(probe)
                sent = asyncio.create_task(ledger.send(client, probe))
                await asyncio.sleep(FREEZE_SECONDS)
            thawed_at = time.monotonic()
            await sent
            # Full service again: a success from requests sent after the thaw, from every writer.
            while True:
                answers = [a for c in creates for a in c.answers]
                recovered = _first_success_after(answers, thawed_at)
                by_writer = {c.amount for c in creates if any(a.sent >= thawed_at for a in c.answers)}
                succeeded = {c.amount for c in creates if c.name and c.answers[-1].sent >= thawed_at}
                if recovered is not None and succeeded == by_writer and len(succeeded) == WRITERS:
                    break
                assert time.monotonic() - thawed_at < RECOVERY_SECONDS + REQUEST_BUDGET_SECONDS, answers[-6:]
                await asyncio.sleep(0.1)
        finally:
            done.set()
            await load
        assert recovered is not None and recovered < RECOVERY_SECONDS

        answers = [a for c in creates for a in c.answers]
        during = [a for a in answers if frozen_at <= a.sent and a.sent + a.seconds <= thawed_at]
        failed = [a for a in answers if a.status != 200]
        assert during, "no request was answered while PostgreSQL was frozen"
        assert all(a.status != 200 for a in during), during  # nothing was served from nowhere
        for answer in failed:
            assert_retriable(answer)
        reasons = {d.get("reason") for a in failed for d in a.body.get("details", [])}
        assert reasons & {"REQUEST_TIMEOUT", "DATABASE_TIMEOUT", "DATABASE_UNAVAILABLE"}, reasons

        # Every failed create, retried with its request_id, lands once.
        await asyncio.gather(*(_retry_until_created(ledger, client, c) for c in creates if c.name is None))
    ledger.assert_whole(fault_api, creates)


@pytest.mark.timeout(240)
async def test_restarted_postgres_is_reconnected_without_restarting_services(
    fault_stack: Stack, fault_api: Api
) -> None:
    ledger = Ledger.open(fault_api)
    services = {p.name: p.pid for p in fault_stack.supervisor.processes if p.alive()}
    creates = [Create(2)]
    async with httpx.AsyncClient(base_url=fault_stack.rest_url) as client:
        assert (await ledger.send(client, creates[0])).status == 200
        assert fault_stack.postgres is not None
        await asyncio.to_thread(fault_stack.postgres.restart)
        restarted_at = time.monotonic()
        for amount in (4, 6, 8, 10):
            create = Create(amount)
            creates.append(create)
            await _retry_until_created(ledger, client, create)
        assert creates[1].answers[-1].sent + creates[1].answers[-1].seconds - restarted_at < RECOVERY_SECONDS
        await _every_service_answers(ledger, client)
    ledger.assert_whole(fault_api, creates)
    assert {p.name: p.pid for p in fault_stack.supervisor.processes if p.alive()} == services
