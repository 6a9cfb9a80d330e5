"""Runs the benchmarks and writes docs/benchmarks.md with the machine and the date."""

from __future__ import annotations

import datetime as dt
import os
import platform
import sys
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


def _capacity() -> str:
    from tools.bench import capacity_bench

    results = capacity_bench.run()
    capacity_bench.write_capacity(results, machine())
    return capacity_bench.markdown(results)


def _outbox() -> str:
    from tools.bench import outbox_bench

    return outbox_bench.markdown(outbox_bench.run())


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


def _scan() -> str:
    from tools.bench import scan_bench
    from tools.bench.receipts import font_files

    load_before = os.getloadavg()[0]
    r = scan_bench.run()
    load = f"load average {load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end"
    stamp = f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {machine()} ({load})"
    return "\n".join(
        [
            "## Receipt scanning (local engine)",
            "",
            f"{r['receipts']} generated, labelled receipts (`tools/bench/receipts.py`, seed 16): Indian "
            "restaurant, inter-state and retail GST bills and USD, EUR, GBP, AED, SGD and JPY bills; "
            f"three layouts, {len(font_files())} fonts, widths 520-760 px, ±2° rotation, noise, blur and "
            "JPEG compression. The app's currency (the group's) is passed as the hint, as the app does; "
            "a symbol or code on the bill wins. A line item is exact when its amount and its "
            "description (letters and digits, spaces ignored) match the label. Time is per scan, "
            f"OCR and parsing, one process. Measured {stamp}.",
            "",
            "| metric | value | target |",
            "|---|---|---|",
            f"| exact totals | {r['total_exact']:.1%} | ≥ 95% |",
            f"| line items exact: precision | {r['item_precision']:.1%} | ≥ 90% |",
            f"| line items exact: recall | {r['item_recall']:.1%} | ≥ 90% |",
            f"| tax lines exact | {r['taxes_exact']:.1%} | |",
            f"| drafts that reconcile | {r['reconciled']:.1%} | |",
            f"| currency found on the bill (no hint) | {r['currency_found']:.1%} | |",
            f"| time per scan p50 | {r['p50_s']:.2f} s | ≤ 2 s |",
            f"| time per scan p95 | {r['p95_s']:.2f} s | |",
        ]
    )


def _grpc() -> str:
    from tools.bench import grpc_floor

    return grpc_floor.markdown(grpc_floor.run())


SECTIONS: dict[str, Callable[[], str]] = {
    "ledger": _ledger,
    "capacity": _capacity,
    "outbox": _outbox,
    "gate": _gate,
    "grpc": _grpc,
    "simplify": _simplify,
    "scan": _scan,
}


def _existing_sections() -> dict[str, str]:
    """The sections of the current docs/benchmarks.md by their heading, to keep those not rerun."""
    if not OUT.exists():
        return {}
    found: dict[str, str] = {}
    for chunk in OUT.read_text().split("\n## ")[1:]:
        found["## " + chunk.split("\n", 1)[0]] = ("## " + chunk).rstrip("\n")
    return found


def main(argv: list[str] | None = None) -> None:
    """``python -m tools.bench [section ...]``: all sections, or only those named (the others
    keep their last figures)."""
    names = list(sys.argv[1:] if argv is None else argv) or list(SECTIONS)
    unknown = [n for n in names if n not in SECTIONS]
    if unknown:
        raise SystemExit(f"unknown section(s) {unknown}; choose from {sorted(SECTIONS)}")
    kept = _existing_sections()
    parts = [
        "# Benchmarks",
        "",
        "<!-- Written by `make bench` (python -m tools.bench). -->",
        "",
        f"- date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
        f"- machine: {machine()}",
        "",
    ]
    fresh: dict[str, str] = {}
    for name in names:
        text = SECTIONS[name]()
        print(text, "\n", flush=True)
        fresh[text.split("\n", 1)[0]] = text
        # A run that writes several sections replaces every one of them, not only its first.
        for heading in text.split("\n## ")[1:]:
            kept.pop("## " + heading.split("\n", 1)[0], None)
    for text in {**kept, **fresh}.values():
        parts += [text, ""]
    OUT.write_text("\n".join(parts))
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
