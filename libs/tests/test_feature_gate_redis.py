"""The gate on a real Valkey: exact quota counting under concurrency, release on failure, seeding
from PostgreSQL, cache TTLs bounded by expiry, and the same decisions with Redis unreachable."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import redis.asyncio as redis

from libs.cache import Cache
from libs.clients.features import keys
from libs.clients.features.cache import MAX_TTL_SECONDS, EntitlementCache
from libs.clients.features.counter import QuotaCounter
from libs.clients.features.gate import FeatureGate
from libs.clients.features.holdings import Holdings
from libs.clients.features.windows import Period, window
from libs.errors import DomainError, NotAllowed, ResourceExhausted
from libs.tests.fixtures.slow_valkey import Lag, slow_proxy
from libs.tests.test_feature_gate import CREATE, LIMIT, NOW, RECEIPTS, FakePricing
from tools.devstack.ports import free_port
from tools.devstack.valkey import RunningValkey, start_valkey

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def valkey(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningValkey]:
    server = start_valkey(Path(tmp_path_factory.mktemp("gate-valkey")))
    yield server
    server.stop()


@pytest.fixture
async def client(valkey: RunningValkey) -> AsyncIterator[redis.Redis]:
    conn = redis.Redis.from_url(valkey.url)
    await conn.flushdb()
    yield conn
    await conn.aclose()


def _gate(url: str, source: FakePricing, *, bound: float = 5.0) -> FeatureGate:
    """``bound``: these tests are about decisions, not slow moments (those have tests of their
    own), so a stalled test process on a busy machine does not send a call to the database."""
    return FeatureGate(
        source,
        EntitlementCache(Cache(url, prefix=keys.PREFIX, timeout=bound)),
        QuotaCounter(url, timeout=bound),
        clock=lambda: NOW,
    )


def _dead_url() -> str:
    return f"redis://127.0.0.1:{free_port()}/0"  # nothing listens: Redis is "stopped"


async def test_concurrent_calls_never_take_more_than_the_limit(
    valkey: RunningValkey, client: redis.Redis
) -> None:
    source = FakePricing()
    gate = _gate(valkey.url, source)
    results = await asyncio.gather(*(gate.admit(CREATE, "ravi") for _ in range(12)), return_exceptions=True)
    tickets = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, ResourceExhausted)]
    assert len(tickets) == LIMIT and len(refused) == 12 - LIMIT


async def test_a_failed_call_gives_its_use_back(valkey: RunningValkey, client: redis.Redis) -> None:
    gate = _gate(valkey.url, FakePricing())
    for _ in range(LIMIT):
        ticket = await gate.admit(CREATE, "ravi")
        assert ticket is not None
        await gate.release(ticket)  # the handler failed
    ticket = await gate.admit(CREATE, "ravi")
    assert ticket is not None and ticket.counter_key
    assert int(await client.get(ticket.counter_key) or 0) == 1


async def test_a_retry_of_a_counted_call_takes_no_second_use(
    valkey: RunningValkey, client: redis.Redis
) -> None:
    gate = _gate(valkey.url, FakePricing())
    rid = "0f8fad5b-d9cb-469f-a165-70867728950e"
    first = await gate.admit(CREATE, "ravi", rid)
    assert first is not None and first.reserved
    # Many simultaneous retries: admitted, none of them counted again.
    retries = await asyncio.gather(*(gate.admit(CREATE, "ravi", rid) for _ in range(8)))
    assert all(t is not None and not t.reserved for t in retries)
    assert int(await client.get(first.counter_key) or 0) == 1
    # Fill the quota with other calls: a retry of the first is still admitted, a new call is not.
    for i in range(LIMIT - 1):
        assert await gate.admit(CREATE, "ravi", f"0f8fad5b-d9cb-469f-a165-7086772895{i:02d}") is not None
    assert await gate.admit(CREATE, "ravi", rid) is not None
    with pytest.raises(ResourceExhausted):
        await gate.admit(CREATE, "ravi", "1f8fad5b-d9cb-469f-a165-70867728950e")
    # Releasing a retry gives nothing back; releasing the first frees its use and its id.
    await gate.release(retries[0])  # type: ignore[arg-type]
    assert int(await client.get(first.counter_key) or 0) == LIMIT
    await gate.release(first)
    assert int(await client.get(first.counter_key) or 0) == LIMIT - 1
    again = await gate.admit(CREATE, "ravi", rid)
    assert again is not None and again.reserved


async def test_a_missing_counter_is_seeded_from_the_database(
    valkey: RunningValkey, client: redis.Redis
) -> None:
    source = FakePricing()
    source.used["ravi"] = {"a", "b"}  # counted while Redis had no key (new window, lost data)
    gate = _gate(valkey.url, source)
    assert await gate.admit(CREATE, "ravi") is not None
    with pytest.raises(ResourceExhausted):
        await gate.admit(CREATE, "ravi")


async def test_committing_heals_a_counter_that_missed_uses(
    valkey: RunningValkey, client: redis.Redis
) -> None:
    source = FakePricing()
    gate = _gate(valkey.url, source)
    ticket = await gate.admit(CREATE, "ravi")
    assert ticket is not None
    # Uses recorded while this Redis was unreachable (another process fell back to the database).
    source.used["ravi"] = {"x", "y"}
    await gate.commit(ticket, "z")
    assert int(await client.get(ticket.counter_key) or 0) == 3
    with pytest.raises(ResourceExhausted):
        await gate.admit(CREATE, "ravi")


async def test_uses_the_database_decided_while_the_counter_was_slow_reach_the_counter(
    valkey: RunningValkey, client: redis.Redis
) -> None:
    """A slow moment makes the counter step aside for a while and PostgreSQL decide; once it is
    back it must know those uses, or the window would admit them a second time."""
    source = FakePricing()
    lag = Lag()
    async with slow_proxy(valkey.url, lag) as url:
        gate = FeatureGate(
            source,
            EntitlementCache(Cache(url, prefix=keys.PREFIX, timeout=0.5)),
            QuotaCounter(url, timeout=0.5),
            clock=lambda: NOW,
        )
        first = await gate.admit(CREATE, "ravi", "0f8fad5b-d9cb-469f-a165-708677289500")
        assert first is not None and first.reserved
        await gate.commit(first, first.request_id)
        lag.down = 1.0  # answers come too late: the next reservation gives up
        during = await gate.admit(CREATE, "ravi", "0f8fad5b-d9cb-469f-a165-708677289501")
        lag.down = 0.0
        assert during is not None and not during.reserved  # the database decided
        await gate.commit(during, during.request_id)
        assert int(await client.get(first.counter_key) or 0) == 2  # both uses
        third = await gate.admit(CREATE, "ravi", "0f8fad5b-d9cb-469f-a165-708677289502")
        assert third is not None
        await gate.commit(third, third.request_id)
        assert int(await client.get(first.counter_key) or 0) == LIMIT
        with pytest.raises(ResourceExhausted):
            await gate.admit(CREATE, "ravi", "0f8fad5b-d9cb-469f-a165-708677289503")


async def test_warm_cache_answers_without_the_database_and_ttl_stops_at_expiry(
    valkey: RunningValkey, client: redis.Redis
) -> None:
    source = FakePricing()
    source.held["asha"] = {"receipts": NOW + timedelta(seconds=20)}
    gate = _gate(valkey.url, source)
    await gate.admit(RECEIPTS, "asha")
    checks = source.checks
    for _ in range(5):
        await gate.admit(RECEIPTS, "asha")
    assert source.checks == checks  # warm: Redis answered
    ttl_ms = await client.pttl(keys.entitlements("asha"))
    assert 0 < ttl_ms <= 20_000 < MAX_TTL_SECONDS * 1000
    await EntitlementCache(Cache(valkey.url, prefix=keys.PREFIX)).invalidate("asha")
    assert await client.get(keys.entitlements("asha")) is None


async def test_a_refusal_from_a_stale_copy_is_confirmed_with_the_database(
    valkey: RunningValkey, client: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    """A purchase whose invalidation never reached Valkey (a timeout under load) still counts on
    the next call: the copy says no, PostgreSQL says yes, and the copy is replaced."""
    source = FakePricing()
    gate = _gate(valkey.url, source)
    for _ in range(LIMIT):
        assert await gate.admit(CREATE, "ravi") is not None
    with pytest.raises(ResourceExhausted):
        await gate.admit(CREATE, "ravi")
    with pytest.raises(NotAllowed):
        await gate.admit(RECEIPTS, "ravi")
    assert await client.get(keys.entitlements("ravi")) is not None  # the copy: nothing held

    source.held["ravi"] = {"receipts": None, "unlimited_expenses": None}  # bought; no invalidation
    checks = source.checks
    assert await gate.admit(CREATE, "ravi") is None  # lifted: no use reserved
    assert source.checks == checks + 1
    assert await gate.admit(RECEIPTS, "ravi") is None
    assert source.checks == checks + 1  # the confirmation replaced the copy
    assert Holdings.from_bytes(await client.get(keys.entitlements("ravi")) or b"").holds("receipts", NOW)
    stale = [r for r in caplog.records if r.getMessage() == "cached entitlements were out of date"]
    assert [getattr(r, "feature", None) for r in stale] == ["unlimited_expenses"]  # seen by operators


async def test_a_refusal_the_database_agrees_with_stands_after_one_check(
    valkey: RunningValkey, client: redis.Redis
) -> None:
    source = FakePricing()
    source.used["ravi"] = {str(i) for i in range(LIMIT)}
    gate = _gate(valkey.url, source)
    with pytest.raises(NotAllowed):
        await gate.admit(RECEIPTS, "ravi")  # the copy is filled from the database: no second check
    checks = source.checks
    with pytest.raises(NotAllowed):
        await gate.admit(RECEIPTS, "ravi")
    assert source.checks == checks + 1
    with pytest.raises(ResourceExhausted):
        await gate.admit(CREATE, "ravi")
    # Seeding the counter asked the database once and confirming the refusal once more.
    assert source.checks == checks + 3


async def _decisions(gate: FeatureGate) -> list[str]:
    out = []
    for rules, user in ((RECEIPTS, "asha"), (RECEIPTS, "ravi"), (CREATE, "ravi"), (CREATE, "meera")):
        try:
            ticket = await gate.admit(rules, user)
        except DomainError as err:
            out.append(err.reason)
            continue
        if ticket is not None:
            await gate.release(ticket)  # decide only; do not spend the use
        out.append("OK")
    return out


async def test_decisions_are_identical_with_redis_unreachable(
    valkey: RunningValkey, client: redis.Redis
) -> None:
    source = FakePricing()
    source.held["asha"] = {"receipts": None}
    source.used["ravi"] = {str(i) for i in range(LIMIT)}
    with_redis = await _decisions(_gate(valkey.url, source))
    cold = await _decisions(_gate(valkey.url, source))  # second pass: from the warm cache
    without_redis = await _decisions(_gate(_dead_url(), source))
    assert with_redis == cold == without_redis == ["OK", "FEATURE_REQUIRED", "QUOTA_EXCEEDED", "OK"]


async def test_counter_keys_move_with_the_window() -> None:
    today = window(Period.DAILY, "Asia/Kolkata", NOW)
    tomorrow = window(Period.DAILY, "Asia/Kolkata", today.reset)
    assert keys.quota_counter("u", "q", today.start) != keys.quota_counter("u", "q", tomorrow.start)
    assert tomorrow.start == today.reset and tomorrow.reset - tomorrow.start == timedelta(days=1)
