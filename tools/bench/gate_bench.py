"""The feature gate's added latency per RPC: warm Redis cache, and with Redis stopped.

    python -m tools.bench.gate_bench

Starts a small stack (PostgreSQL, Valkey, auth, pricing, Envoy) on free ports,
signs in two users (one buys the trip pack with the dev provider) and times the
gate's decision in-process, exactly as a service's interceptor makes it:

- redis floor:     one plain GET, the least a warm decision can cost
- feature, warm:   a required feature, answered from Redis (target p50 <= 0.2 ms)
- quota, warm:     a quota reservation and its release (one Redis script each)
- feature, no Redis: Valkey stopped; every decision asks pricing-service (gRPC
                     + PostgreSQL), which is the price of correctness in an outage
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import redis.asyncio as redis

from libs import catalog
from libs.auth.caller import Caller, set_caller
from libs.cache import Cache
from libs.clients.features import keys
from libs.clients.features.cache import EntitlementCache
from libs.clients.features.counter import QuotaCounter
from libs.clients.features.gate import FeatureGate
from libs.clients.features.source import GrpcPricingSource
from libs.rpc.descriptors import MethodRules
from libs.rpc.peers import channel
from tools.devstack.identity import StackIdentity
from tools.devstack.stack import Stack, free_ports

FEATURE = MethodRules("/bench/Feature", False, "receipts", "", "", True)
QUOTA = MethodRules("/bench/Quota", False, "", "expenses_per_day", "unlimited_expenses", True)


def _post(base: str, path: str, body: dict[str, Any], token: str = "") -> dict[str, Any]:
    headers = {"Content-Type": "application/json"} | ({"Authorization": f"Bearer {token}"} if token else {})
    request = urllib.request.Request(base + path, json.dumps(body).encode(), headers, method="POST")  # noqa: S310
    with urllib.request.urlopen(request, timeout=20) as resp:  # noqa: S310 (local stack)
        data: dict[str, Any] = json.load(resp)
    return data


def _sign_in(stack: Stack) -> tuple[str, str]:
    phone = f"+9197{uuid.uuid4().int % 10**8:08d}"
    started = _post(stack.rest_url, "/v1/auth:startSignIn", {"phoneNumber": phone})
    deadline = time.monotonic() + 10
    code = ""
    while not code:
        if time.monotonic() > deadline:
            raise RuntimeError("no sign-in code arrived")
        lines = stack.otp_log.read_text().splitlines() if stack.otp_log.exists() else []
        code = next(
            (str(r["code"]) for r in map(json.loads, reversed(lines)) if r["destination"] == phone), ""
        )
        time.sleep(0.05)
    verified = _post(
        stack.rest_url, "/v1/auth:verifySignIn", {"challengeId": started["challengeId"], "code": code}
    )
    return str(verified["user"]["userId"]), str(verified["accessToken"])


def _buy(stack: Stack, token: str, pack: str) -> None:
    order = _post(stack.rest_url, "/v1/orders", {"pack": pack, "provider": "DEV"}, token)
    _post(stack.rest_url, f"/v1/{order['name']}:confirmPayment", {"providerPaymentId": "bench"}, token)


async def _time(n: int, call: Callable[[], Awaitable[None]]) -> dict[str, float]:
    for _ in range(min(50, n)):  # warm up connections and caches
        await call()
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - started) * 1e3)
    samples.sort()
    return {
        "p50_ms": round(statistics.median(samples), 3),
        "p95_ms": round(samples[int(0.95 * (n - 1))], 3),
        "n": float(n),
    }


async def _measure(
    stack: Stack, paid: tuple[str, str], free: tuple[str, str], n: int
) -> dict[str, dict[str, float]]:
    assert stack.valkey is not None
    # The gate calls pricing as expense-service does: its identity, relaying the user.
    pricing = channel(stack.address("pricing"), identity=StackIdentity(stack.data_dir, "expense"))
    gate = FeatureGate(
        GrpcPricingSource(pricing),
        EntitlementCache(Cache(stack.valkey.url, prefix=keys.PREFIX)),
        QuotaCounter(stack.valkey.url),
    )

    def as_user(user: tuple[str, str]) -> None:
        set_caller(Caller(user[0], user[1]))  # the peers channel relays this user to pricing

    async def feature() -> None:
        await gate.admit(FEATURE, paid[0])

    async def quota() -> None:
        ticket = await gate.admit(QUOTA, free[0])
        if ticket is not None:
            await gate.release(ticket)

    figures: dict[str, dict[str, float]] = {}
    floor = redis.Redis.from_url(stack.valkey.url)
    entry = keys.entitlements(paid[0])

    async def one_get() -> None:
        await floor.get(entry)

    # The floor: one Redis round trip from this process, which a warm decision cannot beat.
    figures["redis_get_floor"] = await _time(n, one_get)
    await floor.aclose()
    as_user(paid)
    figures["feature_warm"] = await _time(n, feature)
    as_user(free)
    figures["quota_reserve_release_warm"] = await _time(n, quota)
    stack.valkey.stop()
    try:
        as_user(paid)
        figures["feature_redis_stopped"] = await _time(max(50, n // 10), feature)
    finally:
        stack.valkey.start()
        await pricing.close(None)
    return figures


def run(iterations: int = 2000) -> dict[str, dict[str, float]]:
    """Figures per scenario: p50_ms, p95_ms and the sample count n."""
    services = [catalog.by_name("auth"), catalog.by_name("pricing")]
    with (
        tempfile.TemporaryDirectory(prefix="gate-bench-") as tmp,
        Stack(
            Path(tmp),
            services=services,
            workers=[],
            ports=free_ports(services),
            database=f"hisaab_bench_{uuid.uuid4().hex[:8]}",
            env={"HISAAB_ENV": "test", "HISAAB_LOG_LEVEL": "WARNING", "HISAAB_SHUTDOWN_DRAIN_SECONDS": "0"},
        ) as stack,
    ):
        paid, free = _sign_in(stack), _sign_in(stack)
        _buy(stack, paid[1], "packs/trip_7d")
        return asyncio.run(_measure(stack, paid, free, iterations))


def main() -> None:
    figures = run()
    print(f"{'scenario':32} {'p50 ms':>8} {'p95 ms':>8} {'n':>6}")
    for name, row in figures.items():
        print(f"{name:32} {row['p50_ms']:8.3f} {row['p95_ms']:8.3f} {int(row['n']):6d}")


if __name__ == "__main__":
    main()
