"""The outbox relay and notifications under load.

1. The relay alone: ``EVENTS`` rows in ``kit.outbox``, drained by 1 and then 2 relay
   processes whose publisher keeps the messages in memory (it builds each SNS message
   body and attributes, as the SNS publisher does, and sends nothing). The stack's own
   relay is paused meanwhile. This is the relay's own cost, without the AWS emulator,
   which is far slower than SNS. Several relays share the rows with
   ``FOR UPDATE SKIP LOCKED``; every event is published once.
2. Create to inbox: 8 clients create expenses through Envoy for ``CREATE_SECONDS``;
   for each of those expenses, the time from its transaction (the outbox row's
   ``created_at``) to the first notification row the notification worker wrote for it,
   through the relay, SNS, SQS (the emulator) and the worker.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psycopg

from libs.db.database import Database
from libs.events import EventMessage
from libs.jobs.outbox_relay import OutboxRelay
from tests.support import Api
from tools.bench import load
from tools.bench.ledger_bench import create_request
from tools.devstack.stack import Stack

ROOT = Path(__file__).resolve().parents[2]
EVENTS = 20_000
RELAYS = (1, 2)
CREATE_SECONDS = 10.0
CLIENTS = 8
INBOX_TIMEOUT_SECONDS = 600.0

# About the size of an ExpenseCreated event's JSON.
_PAYLOAD = json.dumps(
    {
        "expense": f"groups/{uuid.UUID(int=0)}/expenses/{uuid.UUID(int=1)}",
        "group": f"groups/{uuid.UUID(int=0)}",
        "description": "Dinner at the beach shack",
        "total": {"currencyCode": "INR", "units": "1234", "nanos": 500000000},
        "participants": [f"users/{i:032x}" for i in range(4)],
    }
)


class MemoryPublisher:
    """Accepts every event after building what SNS would be sent."""

    def __init__(self) -> None:
        self.published = 0

    async def publish(self, events: Sequence[EventMessage]) -> set[str]:
        for event in events:
            event.body()
            event.attributes()
        self.published += len(events)
        return {e.id for e in events}


async def _relay_process(database_url: str) -> None:
    """One relay process: waits for "go" on stdin, drains the outbox, prints what it did."""
    db = Database(database_url, pool_size=2, application_name="hisaab-bench-relay")
    publisher = MemoryPublisher()
    relay = OutboxRelay(db.writer, publisher)
    await relay.relay_once()  # connect before the clock starts (nothing is waiting yet)
    print("ready", flush=True)
    await asyncio.to_thread(sys.stdin.readline)
    started = time.perf_counter()
    cpu_started = time.process_time()
    while (await relay.relay_once())[0]:
        pass
    print(
        json.dumps(
            {
                "published": publisher.published,
                "seconds": time.perf_counter() - started,
                "cpu_seconds": time.process_time() - cpu_started,
            }
        ),
        flush=True,
    )
    await db.close()


def _fill(database_url: str, count: int) -> None:
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO kit.outbox (id, event_type, aggregate, actor, payload) "
            "SELECT gen_random_uuid(), 'bench.event', 'groups/bench', 'u0', %s::jsonb "
            "FROM generate_series(1, %s)",
            (_PAYLOAD, count),
        )


def _relays_alone(stack: Stack, relays: int) -> dict[str, float]:
    _fill(stack.database_url, EVENTS)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tools.bench.outbox_bench", "relay", stack.database_url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for _ in range(relays)
    ]
    for p in procs:
        assert p.stdout is not None
        if p.stdout.readline().strip() != "ready":
            raise RuntimeError("a relay did not start")
    started = time.perf_counter()
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    reports = []
    for p in procs:
        out, _ = p.communicate(timeout=600)
        reports.append(json.loads(out.strip().splitlines()[-1]))
    elapsed = time.perf_counter() - started
    published = sum(r["published"] for r in reports)
    return {
        "relays": relays,
        "events": EVENTS,
        "published": published,
        "seconds": elapsed,
        "events_per_s": published / elapsed,
        "cpu_ms_per_event": sum(r["cpu_seconds"] for r in reports) * 1000 / max(published, 1),
        "shares": [r["published"] for r in reports],
    }


def _pause(stack: Stack, worker: str, sig: signal.Signals) -> None:
    for p in stack.supervisor.processes:
        if p.name == worker:
            os.kill(p.popen.pid, sig)


def _inbox_latency(stack: Stack, since: float) -> dict[str, Any]:
    """For the expenses created since ``since`` (epoch seconds): outbox row to first notification."""
    query = """
        SELECT o.id, extract(epoch FROM min(n.created_at) - o.created_at) * 1000,
               extract(epoch FROM o.published_at - o.created_at) * 1000,
               extract(epoch FROM min(n.created_at) - o.published_at) * 1000,
               extract(epoch FROM o.published_at), extract(epoch FROM min(n.created_at))
        FROM kit.outbox o LEFT JOIN notification.notifications n ON n.event_id = o.id::text
        WHERE o.created_at >= to_timestamp(%s) AND o.event_type = 'expense.created'
        GROUP BY o.id, o.created_at, o.published_at
    """
    deadline = time.monotonic() + INBOX_TIMEOUT_SECONDS
    with psycopg.connect(stack.database_url, autocommit=True) as conn:
        while True:
            rows = conn.execute(query, (since,)).fetchall()
            waiting = sum(1 for row in rows if row[1] is None)
            if not waiting or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    delivered = [row for row in rows if row[1] is not None]
    latencies = [float(row[1]) for row in delivered]
    # Where the time went: waiting in the outbox for the relay (whose publishing to the
    # emulator sets the pace), then SNS, SQS and the worker.
    in_outbox = [float(row[2]) for row in delivered]
    after = [float(row[3]) for row in delivered]

    def rate(moments: list[float]) -> float:
        span = max(moments, default=0.0) - min(moments, default=0.0)
        return (len(moments) - 1) / span if span > 0 else 0.0

    return {
        "events": len(rows),
        "delivered": len(latencies),
        "p50_ms": load.pct(latencies, 0.5),
        "p99_ms": load.pct(latencies, 0.99),
        "max_ms": max(latencies, default=0.0),
        "outbox_p50_ms": load.pct(in_outbox, 0.5),
        "outbox_p99_ms": load.pct(in_outbox, 0.99),
        "delivery_p50_ms": load.pct(after, 0.5),
        "delivery_p99_ms": load.pct(after, 0.99),
        "published_per_s": rate([float(row[4]) for row in delivered]),
        "notified_per_s": rate([float(row[5]) for row in delivered]),
    }


def run() -> dict[str, Any]:
    results: dict[str, Any] = {"relay": []}
    with load.bench_stack() as stack:
        api = Api(stack)
        owner = api.sign_in()
        api.buy_pro(owner)
        group, users = load.group(api, owner)
        since = time.time() - 1
        row = asyncio.run(
            load.closed_loop(stack, owner, CLIENTS, CREATE_SECONDS, create_request(group, users))
        )
        results["create"] = {"clients": CLIENTS, "rate": row.throughput, "errors": row.errors}
        results["inbox"] = _inbox_latency(stack, since)
        _pause(stack, "outbox-relay", signal.SIGSTOP)
        try:
            for relays in RELAYS:
                results["relay"].append(_relays_alone(stack, relays))
        finally:
            _pause(stack, "outbox-relay", signal.SIGCONT)
        api.http.close()
    return results


def _longer_wait(inbox: dict[str, Any]) -> str:
    if inbox["outbox_p50_ms"] >= inbox["delivery_p50_ms"]:
        return "in the outbox, for the relay"
    return "after publication, for SNS, SQS and the worker"


def markdown(results: dict[str, Any]) -> str:
    create, inbox = results["create"], results["inbox"]
    one = results["relay"][0]
    lines = [
        "## Outbox relay and notifications under load",
        "",
        f"The relay alone: {EVENTS:,} events in `kit.outbox`, drained by relay processes whose "
        "publisher builds each SNS message and keeps it in memory (the AWS emulator, far slower "
        "than SNS, is out of the picture); the stack's own relay is paused meanwhile. Rows are "
        "shared with `FOR UPDATE SKIP LOCKED`.",
        "",
        "| relay processes | events published | seconds | events/s | relay CPU ms per event "
        "| events per relay |",
        "|---|---|---|---|---|---|",
    ]
    for r in results["relay"]:
        lines.append(
            f"| {r['relays']} | {r['published']:,} | {r['seconds']:.1f} | {r['events_per_s']:.0f} | "
            f"{r['cpu_ms_per_event']:.3f} | {' / '.join(f'{s:,}' for s in r['shares'])} |"
        )
    lines += [
        "",
        f"**One relay process publishes {one['events_per_s']:.0f} events/s**, at "
        f"{one['cpu_ms_per_event']:.3f} ms of CPU per event: a relay with a core of its own would "
        f"publish about {1000 / max(one['cpu_ms_per_event'], 1e-9):,.0f} events/s. The "
        f"{CLIENTS}-client create load of the same run wrote {create['rate']:.0f} events/s "
        f"({one['events_per_s'] / max(create['rate'], 1e-9):.1f} times less). "
        f"{len(results['relay'])} relays published {results['relay'][-1]['events_per_s']:.0f} events/s "
        "together, each taking a share of the rows.",
        "",
        f"Create to inbox with {CLIENTS} clients creating for {CREATE_SECONDS:.0f} s "
        f"({create['rate']:.0f} creates/s): from the create's transaction to the first notification "
        "row, through the relay, SNS and SQS (the AWS emulator, at a low CPU priority) and the "
        f"notification worker. {inbox['delivered']:,} of {inbox['events']:,} expenses notified. "
        "The time is split in two: waiting in the outbox until the relay published the event, "
        "then SNS, SQS and the worker.",
        "",
        "| p50 ms | p99 ms | max ms | in the outbox, p50 / p99 ms | SNS, SQS and worker, p50 / p99 ms |",
        "|---|---|---|---|---|",
        f"| {inbox['p50_ms']:.0f} | {inbox['p99_ms']:.0f} | {inbox['max_ms']:.0f} "
        f"| {inbox['outbox_p50_ms']:.0f} / {inbox['outbox_p99_ms']:.0f} "
        f"| {inbox['delivery_p50_ms']:.0f} / {inbox['delivery_p99_ms']:.0f} |",
        "",
        f"The creates came in at {create['rate']:.0f}/s. The stack's relay got "
        f"{inbox['published_per_s']:.0f} events/s into the AWS emulator, and the notification "
        f"worker notified {inbox['notified_per_s']:.0f} expenses/s from its SQS queue; the "
        f"events waited mostly {_longer_wait(inbox)}. Both go at the emulator's pace: it is one "
        "Python process at the lowest CPU priority, answering every publish, every SQS receive and "
        "every delete. Without it, the relay alone publishes "
        f"{one['events_per_s']:.0f} events/s (above).",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    if sys.argv[1:2] == ["relay"]:
        asyncio.run(_relay_process(sys.argv[2]))
    else:
        print(markdown(run()))
