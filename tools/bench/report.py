"""Runs the benchmarks and writes docs/benchmarks.md with the machine and the date."""

from __future__ import annotations

import datetime as dt
import os
import platform
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "docs" / "benchmarks.md"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kib / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    system = f"{platform.system()} {platform.release()}"
    return f"{cpu}, {os.cpu_count()} cores{mem}, {system}, Python {platform.python_version()}"


def _simplify() -> str:
    from tools.bench import simplify_bench

    rows = simplify_bench.run()
    lines = [
        "## Debt simplification (exact vs greedy)",
        "",
        "Exact minimum transfers for up to 20 non-zero balances; median and max over the trials.",
        "",
        "| shape | members | trials | exact median ms | exact max ms | transfers exact | transfers greedy "
        "| exact fewer in |",
        "|---|---|---|---|---|---|---|---|",
    ]
    keys = ("shape", "n", "trials", "exact_ms_median", "exact_ms_max", "exact_transfers_mean",
            "greedy_transfers_mean", "exact_fewer_in")  # fmt: skip
    for r in rows:
        lines.append("| " + " | ".join(str(r[k]) for k in keys) + " |")
    return "\n".join(lines)


def _ledger() -> str:
    from tools.bench import ledger_bench

    return ledger_bench.markdown(ledger_bench.run())


def _gate() -> str:
    from tools.bench import gate_bench

    figures = gate_bench.run()
    lines = [
        "## Feature gate added latency per RPC",
        "",
        "The gate's own work on each gated call, measured in-process against the stack's Valkey and pricing.",
        "",
        "| scenario | p50 ms | p95 ms | samples |",
        "|---|---|---|---|",
    ]
    for name, row in figures.items():
        lines.append(f"| {name} | {row['p50_ms']:.3f} | {row['p95_ms']:.3f} | {int(row['n'])} |")
    return "\n".join(lines)


SECTIONS: list[Callable[[], str]] = [_ledger, _gate, _simplify]


def main() -> None:
    parts = [
        "# Benchmarks",
        "",
        "<!-- Written by `make bench` (python -m tools.bench). -->",
        "",
        f"- date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
        f"- machine: {machine()}",
        "",
    ]
    for section in SECTIONS:
        text = section()
        print(text, "\n", flush=True)
        parts += [text, ""]
    OUT.write_text("\n".join(parts))
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
