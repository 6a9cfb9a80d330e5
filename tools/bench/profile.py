"""Where one expense-service process spends its CPU under the 8-client create load.

``python -m tools.bench.profile [seconds]`` starts the stack as ``make bench`` does,
runs the create load and samples one expense-service process with py-spy (sampling
from outside: the process runs unmodified). It prints the functions that were on CPU
(own time, idle waits excluded) and the work they were done for, the tables kept in
docs/performance.md.

py-spy counts a thread as busy while it waits for a core, which on a saturated machine is
right after each write that wakes another process: its view puts the I/O first. With
``--cprofile`` the expense-service processes profile themselves instead (``libs.profiling``,
cProfile on the thread's CPU clock) and the table is of inclusive CPU per create, by
function: slower to record, but what it counts is CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from libs import profiling
from tests.support import Api, Session
from tools.bench import load
from tools.bench.ledger_bench import create_request
from tools.devstack.stack import Stack

SECONDS = 20.0
CLIENTS = 8
TOP = 15

# Frames where a sampled thread is waiting, not computing.
_IDLE = ("select (selectors.py", "poll (selectors.py")

# What a stack was doing, by the first (outermost-last) frame that names it.
_AREAS = (
    ("database driver (psycopg, SQLAlchemy)", ("psycopg", "sqlalchemy")),
    ("Valkey client", ("redis/",)),
    ("tracing (OpenTelemetry)", ("opentelemetry",)),
    ("metrics", ("prometheus",)),
    ("logging", ("logging/", "libs/logs.py")),
    ("protobuf and JSON", ("google/protobuf", "json/")),
    ("token check", ("libs/auth",)),
    ("gRPC server", ("grpc/", "grpc_status")),
    ("event loop and sockets", ("asyncio/", "uvloop")),
)


def _frame_name(frame: str) -> str:
    # py-spy's raw frames read "function (path/to/file.py:line)"; keep the last path parts.
    name, _, where = frame.partition(" (")
    where = where.rstrip(")").rsplit(":", 1)[0]
    short = "/".join(Path(where).parts[-2:]) if where else ""
    return f"{name} ({short})" if short else name


def summarize(collapsed: str, top: int = TOP) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    """From py-spy's collapsed stacks: the top functions by own CPU and the CPU by area,
    each as a share of the busy samples."""
    own: Counter[str] = Counter()
    areas: Counter[str] = Counter()
    busy = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        frames = stack.split(";")
        leaf = frames[-1]
        if any(marker in leaf for marker in _IDLE):
            continue
        count = int(count_text)
        busy += count
        own[_frame_name(leaf)] += count
        areas[_area(frames)] += count
    total = max(busy, 1)
    return (
        [(name, n / total) for name, n in own.most_common(top)],
        [(name, n / total) for name, n in areas.most_common()],
    )


def _area(frames: list[str]) -> str:
    for frame in reversed(frames):
        for name, markers in _AREAS:
            if any(marker in frame for marker in markers):
                return name
    return "service code and the rest"


def markdown(own: list[tuple[str, float]], areas: list[tuple[str, float]]) -> str:
    lines = ["| function (own CPU) | share |", "|---|---|"]
    lines += [f"| `{name}` | {share:.1%} |" for name, share in own]
    lines += ["", "| work (innermost library on the stack) | share |", "|---|---|"]
    lines += [f"| {name} | {share:.1%} |" for name, share in areas]
    return "\n".join(lines)


@contextlib.contextmanager
def _create_load(env: dict[str, str] | None = None) -> Iterator[tuple[Stack, Session, load.Request]]:
    """The stack as ``make bench`` runs it, a Pro user and the request that adds an expense."""
    with load.bench_stack(env) as stack:
        api = Api(stack)
        owner = api.sign_in()
        api.buy_pro(owner)
        group, users = load.group(api, owner)
        try:
            yield stack, owner, create_request(group, users)
        finally:
            api.http.close()


def record(seconds: float = SECONDS) -> str:
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    with _create_load() as (stack, owner, creates), tempfile.TemporaryDirectory() as tmp:
        target = load.pids(stack, "expense")[0]
        out = Path(tmp) / "profile.txt"
        sampler = subprocess.Popen(
            [spy, "record", "--pid", str(target), "--format", "raw", "--rate", "250",
             "--duration", str(int(seconds)), "--nonblocking", "--output", str(out)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        result = asyncio.run(load.closed_loop(stack, owner, CLIENTS, seconds + 1, creates))
        sampler.wait(timeout=60)
        collapsed = out.read_text() if out.exists() else ""
    print(
        f"{result.requests} creates, {result.throughput:.0f}/s, p99 {result.p99_ms:.1f} ms; CPU ms per "
        f"create: " + ", ".join(f"{k} {v:.2f}" for k, v in result.cpu_ms.items()),
        file=sys.stderr,
    )
    return collapsed


PROFILE_CLIENTS = 4  # the profiler slows the service; fewer clients keep the machine from saturating


def inclusive(stats: pstats.Stats, operations: int, top: int = TOP * 2) -> list[tuple[str, float]]:
    """The functions with the most inclusive CPU, in ms per operation (builtins left out)."""
    rows = []
    for (path, line, function), (_, _, _, cumulative, _) in stats.stats.items():  # type: ignore[attr-defined]
        if path == "~":
            continue
        rows.append(
            (f"{function} ({'/'.join(Path(path).parts[-2:])}:{line})", cumulative * 1e3 / max(1, operations))
        )
    return sorted(rows, key=lambda row: -row[1])[:top]


def record_cprofile(seconds: float = SECONDS) -> list[tuple[str, float]]:
    with (
        tempfile.TemporaryDirectory() as tmp,
        _create_load({"HISAAB_PROFILE_DIR": tmp}) as (stack, owner, creates),
    ):
        asyncio.run(load.closed_loop(stack, owner, PROFILE_CLIENTS, 2.0, creates))  # warm up
        targets = load.pids(stack, "expense")
        for pid in targets:
            os.kill(pid, profiling.SIGNAL)
        result = asyncio.run(load.closed_loop(stack, owner, PROFILE_CLIENTS, seconds, creates))
        for pid in targets:
            os.kill(pid, profiling.SIGNAL)
        written = [profiling.output(Path(tmp), "expense", pid) for pid in targets]
        for _ in range(300):  # until every process has written its profile
            if all(path.exists() and path.stat().st_size > 0 for path in written):
                break
            time.sleep(0.1)
        stats = pstats.Stats(*(str(path) for path in written))
    print(
        f"{result.requests} creates with {PROFILE_CLIENTS} clients, {result.throughput:.0f}/s",
        file=sys.stderr,
    )
    return inclusive(stats, result.requests)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("seconds", nargs="?", type=float, default=SECONDS)
    parser.add_argument("--raw", type=Path, help="also keep py-spy's collapsed stacks in this file")
    parser.add_argument("--cprofile", action="store_true", help="inclusive CPU per create, by cProfile")
    args = parser.parse_args()
    if args.cprofile:
        rows = record_cprofile(args.seconds)
        print("| function (inclusive CPU) | ms per create, under the profiler |\n|---|---|")
        print("\n".join(f"| `{name}` | {ms:.3f} |" for name, ms in rows))
        return
    collapsed = record(args.seconds)
    if args.raw:
        args.raw.write_text(collapsed)
    print(markdown(*summarize(collapsed)))


if __name__ == "__main__":
    main()
