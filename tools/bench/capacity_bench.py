"""Capacity: requests per second per service core at an acceptable p99, and pods per users.

A mixed workload goes through Envoy, as the app's traffic does: about 70% reads
(balances, the expense list, the activity feed), 20% creates and 10% other reads
(debts, the group, the caller's groups). Concurrency rises step by step until p99
passes ``P99_LIMIT_MS``; the last step within it is the operating point. There, the
service processes' CPU (from /proc) gives requests per service core, which does not
depend on how busy the rest of the machine is; that figure and the written
assumptions below give the pods per 100,000 daily active users.

The figure is written to infra/capacity.json, which ``make cost`` (infra/cost.py) reads.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import math
import os
import uuid
from pathlib import Path
from typing import Any

import aiohttp

from libs import catalog
from tests.support import Api, paid_by_one
from tools.bench import load

ROOT = Path(__file__).resolve().parents[2]
CAPACITY_FILE = ROOT / "infra" / "capacity.json"

STEP_SECONDS = 8.0
CONCURRENCY = (1, 2, 4, 8, 16, 32, 64)
# Steps run even past the limit: on a shared machine the first steps may already miss it.
MIN_CLIENTS = 8
P99_LIMIT_MS = 100.0
SEED_EXPENSES = 40  # so list reads return a full page

# Out of 20 requests: 14 reads, 4 creates, 2 other.
MIX = (
    ("balances", 6),
    ("expense list", 5),
    ("activity", 3),
    ("create", 4),
    ("debts", 1),
    ("group", 1),
)

# Written assumptions for pods per 100,000 daily active users (DAU); infra/usage.yaml
# holds the same ones for the bill.
REQUESTS_PER_ACTIVE_DAY = 40  # REST calls a phone makes on a day it is used
PEAK_TO_AVERAGE = 3  # the busiest hour against the day's average
TARGET_UTILIZATION = 0.6  # the HPA's CPU target: headroom for a burst while pods start
CORES_PER_POD = 1.0  # one asyncio process per pod uses at most one core
DAU = 100_000

_SERVICES = frozenset(s.name for s in catalog.SERVICES)


def _schedule() -> list[str]:
    return [name for name, weight in MIX for _ in range(weight)]


def mixed_request(group: str, users: list[str]) -> load.Request:
    schedule = _schedule()

    async def send(http: aiohttp.ClientSession, n: int) -> int:
        kind = schedule[n % len(schedule)]
        if kind == "create":
            body = json.dumps(paid_by_one(users[0], users, 100 + n % 1_000_000))
            request = http.post(f"/v1/{group}/expenses", data=body, params={"requestId": str(uuid.uuid4())})
        else:
            path = {
                "balances": f"/v1/{group}/balances",
                "expense list": f"/v1/{group}/expenses",
                "activity": f"/v1/{group}/activities",
                "debts": f"/v1/{group}/debts",
                "group": f"/v1/{group}",
            }[kind]
            request = http.get(path)
        async with request as resp:
            await resp.read()
            return resp.status

    return send


def service_cores(cpu_ms: dict[str, float], throughput: float) -> float:
    """Cores used by the Hisaab service processes (not PostgreSQL, Valkey, Envoy or AWS)."""
    return sum(ms for part, ms in cpu_ms.items() if part in _SERVICES) * throughput / 1000


def pods_per_dau(requests_per_core: float, dau: int = DAU) -> dict[str, float]:
    average = dau * REQUESTS_PER_ACTIVE_DAY / 86_400
    peak = average * PEAK_TO_AVERAGE
    cores = peak / (requests_per_core * TARGET_UTILIZATION) if requests_per_core else math.inf
    return {"average_rps": average, "peak_rps": peak, "pods": math.ceil(cores / CORES_PER_POD)}


def run(seconds: float = STEP_SECONDS) -> dict[str, Any]:
    steps: list[dict[str, Any]] = []
    load_before = os.getloadavg()[0]
    with load.bench_stack() as stack:
        api = Api(stack)
        owner = api.sign_in()
        api.buy_pro(owner)
        group, users = load.group(api, owner)
        for n in range(SEED_EXPENSES):
            api.call(
                "POST", f"/v1/{group}/expenses", owner, json=paid_by_one(users[0], users, 400 + n)
            ).raise_for_status()
        for clients in CONCURRENCY:
            row = asyncio.run(load.closed_loop(stack, owner, clients, seconds, mixed_request(group, users)))
            cores = service_cores(row.cpu_ms, row.throughput)
            steps.append(
                {
                    "clients": clients,
                    "requests": row.requests,
                    "errors": row.errors,
                    "rps": row.throughput,
                    "p50_ms": row.p50_ms,
                    "p99_ms": row.p99_ms,
                    "service_cores": cores,
                    "envoy_cores": row.cores("envoy"),
                    "postgres_cores": row.cores("postgres"),
                    "rps_per_service_core": row.throughput / cores if cores else 0.0,
                }
            )
            print(
                f"capacity: {clients} clients, {row.throughput:.0f} req/s, p99 {row.p99_ms:.1f} ms, "
                f"{cores:.2f} service cores",
                flush=True,
            )
            if row.p99_ms > P99_LIMIT_MS and clients >= MIN_CLIENTS:
                break
        api.http.close()
    point, within = operating_point(steps)
    return {
        "steps": steps,
        "point": point,
        "within_limit": within,
        "load_average": load_before,
        "sizing": pods_per_dau(point["rps_per_service_core"]),
    }


def operating_point(steps: list[dict[str, Any]]) -> tuple[dict[str, Any], bool]:
    """The busiest step within the p99 limit; when none is (a machine shared with other
    work), the step that served the most per service core, flagged as such."""
    clean = [s for s in steps if not s["errors"]] or steps
    within = [s for s in clean if s["p99_ms"] <= P99_LIMIT_MS]
    if within:
        return max(within, key=lambda s: s["rps"]), True
    return max(clean, key=lambda s: s["rps_per_service_core"]), False


def write_capacity(results: dict[str, Any], machine: str, path: Path = CAPACITY_FILE) -> None:
    point = results["point"]
    in_cluster = point["service_cores"] + point["envoy_cores"]
    path.write_text(
        json.dumps(
            {
                "measured": f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
                "machine": machine,
                "p99_limit_ms": P99_LIMIT_MS,
                "p99_ms": round(point["p99_ms"], 1),
                "clients": point["clients"],
                "within_p99_limit": results["within_limit"],
                "requests_per_second_per_service_core": round(point["rps_per_service_core"], 1),
                # What a node's vCPU serves: the services and Envoy run on the nodes;
                # PostgreSQL, Valkey and AWS do not.
                "requests_per_second_per_vcpu": round(point["rps"] / in_cluster, 1) if in_cluster else 0.0,
            },
            indent=2,
        )
        + "\n"
    )


def markdown(results: dict[str, Any]) -> str:
    point, sizing = results["point"], results["sizing"]
    mix = ", ".join(f"{name} {weight * 5}%" for name, weight in MIX)
    lines = [
        "## Capacity (mixed workload through Envoy)",
        "",
        f"Mix: {mix}, on one group of 4 members. Closed-loop clients, {STEP_SECONDS:.0f} s per step, "
        f"concurrency rising until p99 passes {P99_LIMIT_MS:.0f} ms. Service cores are the CPU of the "
        "Hisaab service processes (from /proc), so requests per service core does not depend on what "
        "else the machine runs; requests per second does.",
        "",
        "| clients | requests | errors | req/s | p50 ms | p99 ms | service cores | req/s per service core |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s in results["steps"]:
        lines.append(
            f"| {s['clients']} | {s['requests']} | {s['errors']} | {s['rps']:.0f} | {s['p50_ms']:.1f} | "
            f"{s['p99_ms']:.1f} | {s['service_cores']:.2f} | {s['rps_per_service_core']:.0f} |"
        )
    pods = f"{sizing['pods']} service pod" + ("" if sizing["pods"] == 1 else "s")
    where = (
        f"at p99 {point['p99_ms']:.0f} ms ({point['clients']} clients)"
        if results["within_limit"]
        else f"at {point['clients']} clients, the step that served the most per core: no step met "
        f"p99 ≤ {P99_LIMIT_MS:.0f} ms on this machine in this run (load average "
        f"{results['load_average']:.1f} when it started, other work included)"
    )
    lines += [
        "",
        f"**Capacity: {point['rps_per_service_core']:.0f} requests/s per service core** {where}.",
        "",
        f"Pods per {DAU:,} daily active users, assuming {REQUESTS_PER_ACTIVE_DAY} requests per active "
        f"day, a peak hour {PEAK_TO_AVERAGE} times the day's average, one core per pod and a "
        f"{TARGET_UTILIZATION:.0%} CPU target: average {sizing['average_rps']:.0f} req/s, peak "
        f"{sizing['peak_rps']:.0f} req/s, **{pods}** at the peak (the chart's "
        "minimum of two replicas per service applies below that). The figure is written to "
        "`infra/capacity.json` for `make cost`.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown(run()))
