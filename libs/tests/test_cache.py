"""The cache answers from Valkey when it is up and degrades to misses, quickly, when it is down."""

from __future__ import annotations

import asyncio
import time

import pytest

from libs import cache as cache_module
from libs.cache import Cache
from tools.devstack.stack import Stack

pytestmark = pytest.mark.integration


async def test_round_trip_and_outage(stack: Stack) -> None:
    assert stack.valkey is not None
    # A generous bound: a stalled test process must not turn a hit into a miss; the outage
    # below is a refused connection, which answers at once whatever the bound.
    cache = Cache(stack.valkey.url, prefix="test-cache", timeout=5.0)
    key = cache.key("k")
    await cache.set(key, b"v", 5)
    assert await cache.get(key) == b"v"
    assert await cache.incr(cache.key("n"), 5) == 1
    assert await cache.incr(cache.key("n"), 5) == 2
    await cache.delete(key)
    assert await cache.get(key) is None

    stack.valkey.stop()
    try:
        started = time.perf_counter()
        assert await cache.get(key) is None
        await cache.set(key, b"x", 5)
        assert await cache.incr(cache.key("n"), 5) is None
        for _ in range(100):  # skipped while down: no timeout per call
            assert await cache.get(key) is None
        assert time.perf_counter() - started < 1.0
    finally:
        stack.valkey.start()
    await cache.close()


async def test_invalidation_right_after_an_outage_is_not_skipped(stack: Stack) -> None:
    assert stack.valkey is not None
    cache = Cache(stack.valkey.url, prefix="test-cache-skip")
    key = cache.key("entitlements")
    await cache.set(key, b"stale", 30)
    stack.valkey.stop()
    try:
        assert await cache.get(key) is None  # the error opens the skip window
    finally:
        stack.valkey.start()
    await cache.delete(key)  # still inside the skip window: must reach Redis anyway
    await asyncio.sleep(cache_module.SKIP_AFTER_ERROR_SECONDS)
    assert await cache.get(key) is None
    await cache.close()
