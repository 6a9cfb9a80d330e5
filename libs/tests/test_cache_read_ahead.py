"""A request reads the keys it needs in one round trip. A key found answers every read
of it in the request, as one snapshot, until the request writes it; a key not found
answers once, so whatever fills it is read from Valkey next."""

from __future__ import annotations

import asyncio
import contextvars

import pytest
from hisaab.expense.v1 import expense_pb2
from hisaab.settlement.v1 import settlement_pb2

from libs.cache import Cache, end_read_ahead, request_scope
from libs.clients.rosters import keys_for_request
from tools.devstack.stack import Stack

# These tests are about what is read, not about a slow moment: a generous bound keeps a
# stalled test process (a busy CI machine) from turning a hit into a miss.
PATIENT_SECONDS = 5.0


@pytest.mark.integration
async def test_keys_read_ahead_answer_the_request_until_it_writes_them(stack: Stack) -> None:
    assert stack.valkey is not None
    reader = Cache(stack.valkey.url, prefix="test-ahead", timeout=PATIENT_SECONDS)
    other = Cache(stack.valkey.url, prefix="roster", timeout=PATIENT_SECONDS)
    writer = Cache(stack.valkey.url, prefix="test-ahead", timeout=PATIENT_SECONDS)
    held, absent, own = reader.key("held"), reader.key("absent"), reader.key("own")
    await writer.set(held, b"before", 30)
    await writer.set(own, b"mine before", 30)
    await writer.delete(absent)

    async def elsewhere() -> None:  # another request, with no read ahead of its own
        await writer.set(held, b"after", 30)
        await writer.set(absent, b"now here", 30)
        await writer.set(own, b"theirs", 30)

    token = await reader.read_ahead([held, absent, own])
    assert token is not None
    try:
        await asyncio.create_task(elsewhere(), context=contextvars.Context())
        # A key found is the request's snapshot, for any Cache on the same server, every time...
        assert await other.get(held) == b"before"
        assert await reader.get(held) == b"before"
        # ...a key not found is answered once, then read from Valkey...
        assert await reader.get(absent) is None
        assert await reader.get(absent) == b"now here"
        # ...and a key the request writes itself is read back from Valkey.
        assert await reader.get(own) == b"mine before"
        await reader.set(own, b"mine after", 30)
        assert await reader.get(own) == b"mine after"
    finally:
        end_read_ahead(token)
    assert await reader.get(held) == b"after"  # the request is over
    for cache in (reader, other, writer):
        await cache.close()


@pytest.mark.integration
async def test_a_read_ahead_belongs_to_its_own_request(stack: Stack) -> None:
    assert stack.valkey is not None
    cache = Cache(stack.valkey.url, prefix="test-ahead-task", timeout=PATIENT_SECONDS)
    key = cache.key("k")
    await cache.set(key, b"old", 30)
    ready, changed = asyncio.Event(), asyncio.Event()

    async def request_that_reads_ahead() -> bytes | None:
        token = await cache.read_ahead([key])
        try:
            ready.set()
            await changed.wait()
            return await cache.get(key)
        finally:
            end_read_ahead(token)

    async def another_request() -> bytes | None:
        await ready.wait()
        await cache.set(key, b"new", 30)
        changed.set()
        return await cache.get(key)

    first, second = await asyncio.gather(request_that_reads_ahead(), another_request())
    assert (first, second) == (b"old", b"new")
    await cache.close()


def test_the_roster_read_ahead_is_that_of_the_group_the_call_names() -> None:
    gid = "0f8fad5b-d9cb-469f-a165-70867728950e"
    assert keys_for_request(expense_pb2.CreateExpenseRequest(parent=f"groups/{gid}")) == [f"roster:{gid}"]
    assert keys_for_request(settlement_pb2.GetGroupBalancesRequest(group=f"groups/{gid}")) == [
        f"roster:{gid}"
    ]
    named = expense_pb2.GetExpenseRequest(name=f"groups/{gid}/expenses/e1")
    assert keys_for_request(named) == [f"roster:{gid}"]
    assert keys_for_request(expense_pb2.CreateExpenseRequest(parent="users/me")) == []
    assert keys_for_request(expense_pb2.CreateExpenseRequest()) == []


@pytest.mark.integration
async def test_a_request_reads_a_found_key_once(stack: Stack) -> None:
    assert stack.valkey is not None
    cache = Cache(stack.valkey.url, prefix="test-scope", timeout=PATIENT_SECONDS)
    found, absent, ahead = cache.key("found"), cache.key("absent"), cache.key("ahead")
    await cache.set(found, b"first", 30)
    await cache.set(ahead, b"read ahead", 30)
    await cache.delete(absent)

    async def elsewhere(key: str, value: bytes) -> None:  # another request
        await cache.set(key, value, 30)

    async def request() -> list[bytes | None]:
        scope = request_scope()
        try:
            seen = [await cache.get(found), await cache.get(absent)]
            assert await cache.read_ahead([ahead]) is None  # joins the request's scope
            others = contextvars.Context()
            for key, value in ((found, b"second"), (absent, b"filled"), (ahead, b"changed")):
                await asyncio.create_task(elsewhere(key, value), context=others)
            seen += [await cache.get(found), await cache.get(absent), await cache.get(ahead)]
            # A task the request starts may outlive it: it reads Valkey itself.
            seen.append(await asyncio.create_task(cache.get(found)))
            return seen
        finally:
            end_read_ahead(scope)

    assert await request() == [b"first", None, b"first", b"filled", b"read ahead", b"second"]
    assert await cache.get(found) == b"second"  # no scope: every read goes to Valkey
    await cache.close()
