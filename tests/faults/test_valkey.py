"""Valkey killed under mixed load: every answer stays right (the cache is an accelerator,
never the source of truth); once it is back, empty, the caches fill again."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
import redis

from tests.faults.load import Create, Ledger
from tests.support import Api
from tools.devstack.stack import Stack

pytestmark = pytest.mark.faults

LEDGERS = 3
ROUNDS_PER_PHASE = 4


async def _round(
    api: Api, client: httpx.AsyncClient, ledger: Ledger, creates: list[Create], amount: int
) -> None:
    """Write one expense, then read it back three ways; each read must show every write so far."""
    create = Create(amount)
    answer = await ledger.send(client, create)
    assert answer.status == 200, answer
    creates.append(create)
    total = sum(c.amount for c in creates)
    got = await client.get(f"/v1/{create.name}", headers=ledger.friend.headers)
    assert got.status_code == 200 and got.json()["total"]["amountMinor"] == str(amount), got.text
    balances = await client.get(f"/v1/{ledger.group}/balances", headers=ledger.friend.headers)
    assert balances.status_code == 200, balances.text
    nets = {
        m["user"]: sum(int(n["amountMinor"]) for n in m.get("net", [])) for m in balances.json()["members"]
    }
    assert nets == {
        f"users/{ledger.owner.user_id}": total // 2,
        f"users/{ledger.friend.user_id}": -(total // 2),
    }
    members = await client.get(f"/v1/{ledger.group}/members", headers=ledger.friend.headers)
    assert members.status_code == 200 and len(members.json()["members"]) == 2, members.text


async def _load(
    api: Api, client: httpx.AsyncClient, ledgers: list[Ledger], creates: list[list[Create]]
) -> None:
    for n in range(ROUNDS_PER_PHASE):
        await asyncio.gather(
            *(
                _round(api, client, ledger, made, 2 * (n + 1))
                for ledger, made in zip(ledgers, creates, strict=True)
            )
        )


def _cached_keys(url: str) -> set[bytes]:
    """The balances the settlement service has cached (one key per group and version)."""
    client = redis.Redis.from_url(url, socket_timeout=2)
    try:
        return set(client.scan_iter(match="settlement:balances:*", count=1000))
    finally:
        client.close()


async def test_valkey_killed_under_load_answers_stay_right_and_caches_refill(
    fault_stack: Stack, fault_api: Api
) -> None:
    valkey = fault_stack.valkey
    assert valkey is not None and valkey.managed
    ledgers = [Ledger.open(fault_api) for _ in range(LEDGERS)]
    creates: list[list[Create]] = [[] for _ in ledgers]
    async with httpx.AsyncClient(base_url=fault_stack.rest_url, timeout=20) as client:
        await _load(fault_api, client, ledgers, creates)
        assert _cached_keys(valkey.url)  # the cache was in use

        load = asyncio.create_task(_load(fault_api, client, ledgers, creates))
        await asyncio.sleep(0.2)
        valkey.kill()
        await load
        await _load(fault_api, client, ledgers, creates)  # with no cache at all

        # Back with what it had persisted before the kill: whatever it still holds, the
        # answers stay right, and the balances written since fill the cache again.
        await asyncio.to_thread(valkey.start)
        before = _cached_keys(valkey.url)
        deadline = time.monotonic() + 30
        while not (_cached_keys(valkey.url) - before):
            assert time.monotonic() < deadline, "the caches did not fill again"
            await _load(fault_api, client, ledgers, creates)
    for ledger, made in zip(ledgers, creates, strict=True):
        ledger.assert_whole(fault_api, made)
