"""A cache server that accepts connections and then never answers costs each call its timeout,
not a hung request: the calls are bounded by the caller, not by the socket. An invalidation
gets a longer bound than a read, so a slow moment does not leave a stale value behind."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Iterator
from pathlib import Path

import pytest
import redis.asyncio as redis

from libs.cache import Cache
from libs.clients.features.counter import QuotaCounter
from libs.tests.fixtures.slow_valkey import Lag, slow_proxy
from tools.devstack.valkey import RunningValkey, start_valkey

TIMEOUT = 0.1


@pytest.fixture
async def silent_url() -> AsyncIterator[str]:
    held: list[asyncio.StreamWriter] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)  # reads nothing back, answers nothing, keeps the connection open

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield f"redis://127.0.0.1:{port}/0"
    for writer in held:
        writer.close()
    server.close()
    await server.wait_closed()


async def _bounded(call: Awaitable[object]) -> tuple[object, float]:
    started = time.monotonic()
    result = await asyncio.wait_for(call, 50 * TIMEOUT)  # a failure here, not a hung suite
    return result, time.monotonic() - started


async def test_each_cache_call_gives_up_after_its_timeout(silent_url: str) -> None:
    writes = Cache(silent_url, prefix="t", timeout=TIMEOUT, invalidation_timeout=3 * TIMEOUT)
    reads = Cache(silent_url, prefix="t", timeout=TIMEOUT)
    try:
        # Writes are always attempted, so each one meets the silence and gives up in time.
        for write in (writes.set_versioned("k", 1, b"v", 60), writes.delete("k")):
            assert 3 * TIMEOUT <= (await _bounded(write))[1] < 30 * TIMEOUT
        value, waited = await _bounded(reads.get("k"))
        assert value is None and waited < 10 * TIMEOUT
    finally:
        await writes.close()
        await reads.close()


async def test_the_quota_counter_gives_up_after_its_timeout(silent_url: str) -> None:
    counter = QuotaCounter(silent_url, timeout=TIMEOUT, release_timeout=3 * TIMEOUT)
    with_id = QuotaCounter(silent_url, timeout=TIMEOUT, release_timeout=3 * TIMEOUT)
    try:
        reservation, waited = await _bounded(counter.reserve("q", 5, 60, None))
        assert reservation is None and waited < 10 * TIMEOUT  # None: count in the database instead
        # With a request id, the reservation that may have landed is given back, in bounded time.
        reservation, waited = await _bounded(with_id.reserve("q", 5, 60, None, "r1"))
        assert reservation is None and 3 * TIMEOUT <= waited < 30 * TIMEOUT
    finally:
        await counter.close()
        await with_id.close()


@pytest.fixture(scope="module")
def valkey(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningValkey]:
    server = start_valkey(Path(tmp_path_factory.mktemp("timeout-valkey")))
    yield server
    server.stop()


async def test_an_invalidation_slower_than_a_read_may_be_still_lands(valkey: RunningValkey) -> None:
    direct = redis.Redis.from_url(valkey.url)
    await direct.set("stale", b"old")
    async with slow_proxy(valkey.url, Lag(up=2 * TIMEOUT)) as url:
        reads = Cache(url, prefix="t", timeout=TIMEOUT)
        writes = Cache(url, prefix="t", timeout=TIMEOUT, invalidation_timeout=30 * TIMEOUT)
        try:
            value, _ = await _bounded(reads.get("stale"))
            assert value is None  # too slow for a read: a miss, answered from the database
            await _bounded(writes.delete("stale"))
            assert await direct.get("stale") is None  # not too slow for an invalidation
        finally:
            await reads.close()
            await writes.close()
            await direct.aclose()


async def test_a_reservation_whose_answer_was_lost_is_given_back(valkey: RunningValkey) -> None:
    """The counter ran the reservation but its answer came after the caller gave up, so the
    database decided that call: the window must not keep the use as well."""
    direct = redis.Redis.from_url(valkey.url)
    key = "q:lost-answer"
    await direct.set(key, 2)
    lag = Lag()
    async with slow_proxy(valkey.url, lag) as url:
        # Bounds well apart from the lag, so a stalled test process changes neither outcome.
        counter = QuotaCounter(url, timeout=5 * TIMEOUT, release_timeout=50 * TIMEOUT)
        try:
            warm = await counter.reserve(key, 5, 60, None, "r0")  # connected, scripts loaded
            assert warm is not None and warm.used == 3
            await counter.release(key, "r0")
            lag.down = 10 * TIMEOUT
            reservation, _ = await _bounded(counter.reserve(key, 5, 60, None, "r1"))
            assert reservation is None
            assert int(await direct.get(key) or 0) == 2  # reserved, then given back
            assert not await direct.sismember(f"{{{key}}}:requests", "r1")  # type: ignore[misc]
        finally:
            await counter.close()
            await direct.aclose()


async def test_a_use_is_given_back_once_however_often_it_is_released(valkey: RunningValkey) -> None:
    counter = QuotaCounter(valkey.url)
    direct = redis.Redis.from_url(valkey.url)
    key = "q:released-twice"
    try:
        for request_id in ("a", "b"):
            reservation = await counter.reserve(key, 5, 60, 0, request_id)
            assert reservation is not None and reservation.used == ("a", "b").index(request_id) + 1
        for _ in range(3):
            await counter.release(key, "a")
        await counter.release(key, "never-reserved")
        assert int(await direct.get(key) or 0) == 1  # b's use is still held
    finally:
        await counter.close()
        await direct.aclose()
