"""CPU time spent by each part of the local stack, read from /proc (Linux only).

The benchmarks run everything on one machine, so a throughput figure alone does not
say which part ran out of CPU; this does.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from pathlib import Path

# (component, what its command line contains), first match wins.
_PARTS = (
    ("notification-worker", "services.notification.worker"),
    ("scan-worker", "services.expense.scan.worker"),
    ("activity-worker", "services.expense.activity.worker"),
    ("group-worker", "services.group.worker"),
    ("outbox-relay", "outbox_relay"),
    ("scheduler", "libs.jobs.scheduler"),
    ("aws-emulator", "moto.server"),
    ("envoy", "/envoy"),
    ("valkey", "valkey-server"),
    ("postgres", "postgres"),
)


def _component(cmdline: str) -> str | None:
    for name, marker in _PARTS:
        if marker in cmdline:
            return name
    if "-m services." in cmdline:
        return cmdline.split("-m services.", 1)[1].split()[0].split(".")[0]
    return None


def postmaster_pid(data_dir: Path) -> int | None:
    """The PostgreSQL server of a local stack (``<data_dir>/postgres``), which runs detached."""
    try:
        return int((data_dir / "postgres" / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def snapshot(roots: Iterable[int] = ()) -> dict[str, float]:
    """Seconds of CPU (user + system) per component; this process counts as the load generator.

    Only this process's descendants and those of ``roots`` (a detached server such as
    PostgreSQL) count: other stacks running on the same machine are not ours to measure.
    """
    if not sys.platform.startswith("linux"):
        return {}
    tick = os.sysconf("SC_CLK_TCK")
    me = os.getpid()
    mine = {me, *roots}
    found: dict[int, tuple[int, float, str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # exited meanwhile
        found[int(entry.name)] = (int(stat[1]), (int(stat[11]) + int(stat[12])) / tick, cmdline)
    totals: dict[str, float] = {}
    for pid, (_, seconds, cmdline) in found.items():
        if not _descends(pid, mine, found):
            continue
        name = "load generator" if pid == me else _component(cmdline)
        if name is not None:
            totals[name] = totals.get(name, 0.0) + seconds
    return totals


def _descends(pid: int, roots: set[int], table: dict[int, tuple[int, float, str]]) -> bool:
    seen = 0
    while pid > 1 and seen < 64:
        if pid in roots:
            return True
        pid = table[pid][0] if pid in table else 0
        seen += 1
    return False


def per_operation(before: dict[str, float], after: dict[str, float], operations: int) -> dict[str, float]:
    """Milliseconds of CPU per operation, per component, largest first."""
    spent = {k: after[k] - before.get(k, 0.0) for k in after}
    rows = {k: v * 1000 / max(1, operations) for k, v in spent.items() if v > 0}
    return dict(sorted(rows.items(), key=lambda kv: -kv[1]))
