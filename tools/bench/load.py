"""What the benchmarks on the running stack share: the stack as the chart runs it, a group
to write into, and closed-loop HTTP clients through Envoy with CPU accounting.

A client sends its next request as soon as the previous one answered (one keep-alive
connection each, as a phone holds one), so the rate is whatever the stack sustains at
that concurrency.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from tests.support import LEDGER_PROCESSES, Api, Session
from tools.bench import cpu
from tools.devstack.stack import Stack, free_ports

BACKGROUND_NICE = 19
MEMBERS = 4
STARTUP_TIMEOUT = 240.0
TRACE_SAMPLE_RATIO = 0.05

# One request of a workload: given the client's session and its number, send it and return
# the HTTP status.
Request = Callable[[aiohttp.ClientSession, int], Awaitable[int]]


@contextlib.contextmanager
def bench_stack(env: dict[str, str] | None = None) -> Iterator[Stack]:
    """The whole local stack on free ports and a fresh database, the ledger services as the
    chart's minimum replicas, background work at a lower CPU priority."""
    with (
        tempfile.TemporaryDirectory() as tmp,
        Stack(
            Path(tmp),
            ports=free_ports(),
            database=f"hisaab_bench_{uuid.uuid4().hex[:8]}",
            env={
                "HISAAB_ENV": "test",
                "HISAAB_LOG_LEVEL": "WARNING",
                "HISAAB_SHUTDOWN_DRAIN_SECONDS": "0",
                # The share of traces kept in production (infra/usage.yaml): the others cost
                # no span recording, as there.
                "HISAAB_TRACE_SAMPLE_RATIO": str(TRACE_SAMPLE_RATIO),
                **(env or {}),
            },
            # In EKS the relay and the notification worker have their own pods and AWS its own
            # machines: here they only get the CPU the request path leaves.
            background_nice=BACKGROUND_NICE,
            processes=LEDGER_PROCESSES,
            # The machine may be shared with other work: starting can take longer than usual.
            startup_timeout=STARTUP_TIMEOUT,
        ) as stack,
    ):
        yield stack


def roots(stack: Stack) -> tuple[int, ...]:
    """Processes of this stack that are not children of the benchmark (PostgreSQL)."""
    pid = cpu.postmaster_pid(stack.data_dir)
    return (pid,) if pid else ()


def pids(stack: Stack, service: str) -> list[int]:
    """The process ids of every process of ``service`` (``expense``, ``expense-2``, ...)."""
    return [
        p.popen.pid
        for p in stack.supervisor.processes
        if p.name == service or (p.name.startswith(f"{service}-") and p.name[len(service) + 1 :].isdigit())
    ]


def group(api: Api, owner: Session, members: int = MEMBERS) -> tuple[str, list[str]]:
    """A new group ``groups/<id>`` with ``members`` members, the owner first."""
    created = api.call("POST", "/v1/groups", owner, json={"displayName": "Bench", "kind": "TRIP"})
    created.raise_for_status()
    name = created.json()["name"]
    users = [owner.user_id]
    for _ in range(members - 1):
        member = api.call(
            "POST", f"/v1/{name}/members", owner, json={"phoneNumber": f"+9197{uuid.uuid4().int % 10**8:08d}"}
        )
        member.raise_for_status()
        users.append(member.json()["user"].removeprefix("users/"))
    return name, users


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


@dataclass
class LoadResult:
    clients: int
    requests: int
    errors: int
    elapsed_s: float
    latencies_ms: list[float] = field(repr=False)
    cpu_ms: dict[str, float]  # CPU ms per request, by part of the stack

    @property
    def throughput(self) -> float:
        return self.requests / self.elapsed_s

    @property
    def p50_ms(self) -> float:
        return statistics.median(self.latencies_ms) if self.latencies_ms else 0.0

    @property
    def p99_ms(self) -> float:
        return pct(self.latencies_ms, 0.99)

    def cores(self, part: str) -> float:
        """Cores ``part`` kept busy on average."""
        return self.cpu_ms.get(part, 0.0) * self.throughput / 1000


async def closed_loop(
    stack: Stack, session: Session, clients: int, seconds: float, request: Request
) -> LoadResult:
    """``clients`` concurrent clients each sending ``request`` back to back for ``seconds``."""
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def client(http: aiohttp.ClientSession, seed: int) -> None:
        nonlocal errors
        n = seed * 1_000_000
        while time.perf_counter() < deadline:
            n += 1
            started = time.perf_counter()
            status = await request(http, n)
            latencies.append((time.perf_counter() - started) * 1000)
            errors += status != 200

    async with aiohttp.ClientSession(
        stack.rest_url,
        connector=aiohttp.TCPConnector(limit=clients),
        headers={**session.headers, "Content-Type": "application/json"},
        timeout=aiohttp.ClientTimeout(total=30),
    ) as http:
        owned = roots(stack)
        before = cpu.snapshot(owned)
        started = time.perf_counter()
        await asyncio.gather(*(client(http, i) for i in range(clients)))
        elapsed = time.perf_counter() - started
        after = cpu.snapshot(owned)
    return LoadResult(
        clients=clients,
        requests=len(latencies),
        errors=errors,
        elapsed_s=elapsed,
        latencies_ms=latencies,
        cpu_ms=cpu.per_operation(before, after, len(latencies)),
    )
