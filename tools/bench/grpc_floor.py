"""The CPU one unary call costs a Python gRPC server that does nothing: the floor under every
RPC of every service, before authentication, the database or a single line of ours.

    python -m tools.bench.grpc_floor          # print the figures
    python -m tools.bench.grpc_floor serve aio|sync|io PORT   # (the server side, run by the above)

The server echoes raw bytes (no protobuf, no interceptors) in its own process; the load comes
from this process over loopback with a fixed number of calls in flight. The figure is the
server process's CPU (user + system, from /proc) divided by the calls it answered, so a
service's CPU per request can be read against it: what lies above the floor is ours to cut.

The ``io`` server also does, per call, the input and output an expense create cannot do
without, through the kit's own code and nothing else: one Valkey read of two keys (the
gate's entitlements and the group's roster) and one PostgreSQL transaction whose single
insert goes out with its BEGIN and COMMIT (``libs.db.batch``). PostgreSQL's CPU per call is
measured beside it, so the service-to-database ratio of pure I/O can be read against the
create's.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc

from libs import loop
from tools.bench import cpu
from tools.devstack.postgres import start_postgres
from tools.devstack.valkey import start_valkey

_METHOD = "/bench.Floor/Ping"
_PAYLOAD = b"x" * 64
CALLS = 20_000
IO_CALLS = 5_000
IN_FLIGHT = 16


def _handler(mode: str) -> grpc.GenericRpcHandler[Any, Any]:
    def ping(request: bytes, context: Any) -> bytes:
        return request

    async def ping_async(request: bytes, context: Any) -> bytes:
        return request

    return grpc.method_handlers_generic_handler(
        "bench.Floor",
        {"Ping": grpc.unary_unary_rpc_method_handler(ping_async if mode == "aio" else ping)},
    )


async def _serve_aio(port: int) -> None:
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((_handler("aio"),))
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    await server.wait_for_termination()


_PROBE = "CREATE TABLE IF NOT EXISTS public.floor_probe (id uuid PRIMARY KEY, body bytea NOT NULL)"


async def _serve_io(port: int, database_url: str, redis_url: str) -> None:
    from sqlalchemy import text

    from libs.cache import client
    from libs.db import batch
    from libs.db.database import Database

    db = Database(database_url, pool_size=IN_FLIGHT)
    async with db.transaction() as conn:
        await conn.execute(text(_PROBE))
    valkey = client(redis_url)
    keys = ["floor:entitlements", "floor:roster"]
    await valkey.mset(dict.fromkeys(keys, b"x" * 200))

    async def ping_io(request: bytes, context: Any) -> bytes:
        await valkey.mget(keys)
        async with db.transaction() as conn:
            batch.defer(
                conn,
                batch.Statement(
                    "INSERT INTO public.floor_probe (id, body) VALUES (%(i)s, %(b)s)",
                    {"i": uuid.uuid4(), "b": request},
                ),
            )
        return request

    server = grpc.aio.server()
    handler = grpc.unary_unary_rpc_method_handler(ping_io)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("bench.Floor", {"Ping": handler}),))
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    await server.wait_for_termination()


def _serve_sync(port: int) -> None:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=IN_FLIGHT))
    server.add_generic_rpc_handlers((_handler("sync"),))
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    server.wait_for_termination()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _cpu_seconds(pid: int) -> float:
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")


async def _load(port: int, calls: int, in_flight: int) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        ping = channel.unary_unary(_METHOD, None, None)  # raw bytes both ways
        await channel.channel_ready()
        remaining = calls

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                await ping(_PAYLOAD)

        await asyncio.gather(*(worker() for _ in range(in_flight)))


def measure(
    mode: str,
    calls: int = CALLS,
    in_flight: int = IN_FLIGHT,
    servers: tuple[str, ...] = (),
    postgres: int = 0,
) -> dict[str, float]:
    """Server CPU ms per call and calls per second, for the ``aio``, ``sync`` or ``io`` server
    (``servers``: the io server's database and Valkey URLs; ``postgres``: its postmaster, whose
    processes' CPU per call is reported too)."""
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "tools.bench.grpc_floor", "serve", mode, str(port), *servers]
    )
    try:
        loop.run(_load(port, 200, in_flight))  # connected and warm before the clock starts
        database = cpu.snapshot((postgres,)) if postgres else {}
        before, started = _cpu_seconds(server.pid), time.monotonic()
        loop.run(_load(port, calls, in_flight))
        spent, elapsed = _cpu_seconds(server.pid) - before, time.monotonic() - started
        if postgres:
            database = cpu.per_operation(database, cpu.snapshot((postgres,)), calls)
    finally:
        server.terminate()
        server.wait(timeout=10)
    row = {"cpu_ms_per_call": spent * 1000 / calls, "calls_per_s": calls / elapsed}
    if postgres:
        row["postgres_cpu_ms_per_call"] = database.get("postgres", 0.0)
    return row


def measure_io(calls: int = IO_CALLS) -> dict[int, dict[str, float]]:
    """The ``io`` server on a PostgreSQL and a Valkey of its own, at each level of calls in flight."""
    with tempfile.TemporaryDirectory() as tmp:
        postgres = start_postgres(Path(tmp))
        valkey = start_valkey(Path(tmp))
        try:
            return {
                n: measure("io", calls, n, (postgres.url, valkey.url), postgres.pid or 0)
                for n in IN_FLIGHT_LEVELS
            }
        finally:
            valkey.stop()
            postgres.stop()


# One call at a time is how the balance-read figure is taken (one client, sequential reads):
# every call then pays the wake-ups that concurrent calls share.
IN_FLIGHT_LEVELS = (1, IN_FLIGHT)


def run() -> dict[tuple[str, int], dict[str, float]]:
    results = {
        (mode, in_flight): measure(mode, in_flight=in_flight)
        for mode in ("aio", "sync")
        for in_flight in IN_FLIGHT_LEVELS
    }
    results.update({("io", n): row for n, row in measure_io().items()})
    return results


def markdown(results: dict[tuple[str, int], dict[str, float]]) -> str:
    lines = [
        "## gRPC floor (a Python server that does nothing)",
        "",
        f"One unary call echoing {len(_PAYLOAD)} bytes, no protobuf and no interceptors, {CALLS:,} calls "
        "over loopback, one at a time (as the balance-read figure is taken) and with "
        f"{IN_FLIGHT} in flight (`tools/bench/grpc_floor.py`). Server CPU per call is the floor "
        "under every service's CPU per request. Load average "
        f"{os.getloadavg()[0]:.1f} at the end.",
        "",
        "The last rows add what an expense create cannot do without, through the kit's own code: "
        "one Valkey read of two keys and one PostgreSQL transaction of one insert, sent with its "
        f"BEGIN and COMMIT in one flush ({IO_CALLS:,} calls); PostgreSQL's CPU per call is beside "
        "it. Their ratio is that of pure I/O, with no line of business logic on either side.",
        "",
        "| server | calls in flight | CPU ms per call | PostgreSQL CPU ms per call | calls/s |",
        "|---|---|---|---|---|",
    ]
    names = {
        "aio": "grpc.aio on uvloop (what the services run)",
        "sync": "grpc thread pool",
        "io": "grpc.aio + one Valkey read + one PostgreSQL transaction",
    }
    for (mode, in_flight), row in results.items():
        database = row.get("postgres_cpu_ms_per_call")
        lines.append(
            f"| {names[mode]} | {in_flight} | {row['cpu_ms_per_call']:.3f} | "
            f"{'' if database is None else f'{database:.3f}'} | {row['calls_per_s']:,.0f} |"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    if argv[:1] == ["serve"]:
        if argv[1] == "aio":
            loop.run(_serve_aio(int(argv[2])))
        elif argv[1] == "io":
            loop.run(_serve_io(int(argv[2]), argv[3], argv[4]))
        else:
            _serve_sync(int(argv[2]))
        return
    print(markdown(run()))


if __name__ == "__main__":
    main(sys.argv[1:])
