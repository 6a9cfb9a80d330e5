"""A cache server that accepts connections and then never answers costs each call its timeout,
not a hung request: the calls are bounded by the caller, not by the socket."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable

import pytest

from libs.cache import Cache
from libs.clients.features.counter import QuotaCounter

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
    writes = Cache(silent_url, prefix="t", timeout=TIMEOUT)
    reads = Cache(silent_url, prefix="t", timeout=TIMEOUT)
    try:
        # Writes are always attempted, so each one meets the silence and gives up in time.
        for write in (writes.set_versioned("k", 1, b"v", 60), writes.delete("k")):
            assert (await _bounded(write))[1] < 10 * TIMEOUT
        value, waited = await _bounded(reads.get("k"))
        assert value is None and waited < 10 * TIMEOUT
    finally:
        await writes.close()
        await reads.close()


async def test_the_quota_counter_gives_up_after_its_timeout(silent_url: str) -> None:
    counter = QuotaCounter(silent_url, timeout=TIMEOUT)
    try:
        reservation, waited = await _bounded(counter.reserve("q", 5, 60, None, "r1"))
        assert reservation is None and waited < 10 * TIMEOUT  # None: count in the database instead
    finally:
        await counter.close()
