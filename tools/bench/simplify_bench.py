"""Debt simplification: exact minimum vs greedy, time and transfer counts for n = 5..20.

    python -m tools.bench.simplify_bench

Balance sets are random with a fixed seed. Three shapes:
- paise:  uniform in ±₹10,000 to the paisa (zero-sum subsets are rare, so the exact
          answer is usually n - 1, same as greedy),
- round:  whole ₹100 steps in ±₹5,000 (typical app data: many coincidences),
- tiny:   ±1..3 units, the worst case for the exact search (most zero-sum subsets);
          timed on the partition DP alone, without the opposite-pair shortcut.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable

from libs.ledger.simplify import greedy, simplify, zero_sum_partition

SEED = 20_240_601
TRIALS = 9
SIZES = range(5, 21)


def _balances(rng: random.Random, n: int, draw: Callable[[random.Random], int]) -> list[int]:
    """n non-zero values summing to zero."""
    while True:
        values = [v for v in (draw(rng) for _ in range(4 * n)) if v][: n - 1]
        last = -sum(values)
        if len(values) == n - 1 and last:
            return [*values, last]


SHAPES: dict[str, Callable[[random.Random], int]] = {
    "paise": lambda r: r.randint(-1_000_000, 1_000_000),
    "round": lambda r: r.randint(-50, 50) * 10_000,
    "tiny": lambda r: r.choice((-3, -2, -1, 1, 2, 3)),
}


def _exact(shape: str, values: list[int]) -> tuple[float, int]:
    """(milliseconds, transfers) of the exact path."""
    if shape == "tiny":
        start = time.perf_counter()
        groups = zero_sum_partition(values)
        return (time.perf_counter() - start) * 1000, len(values) - len(groups)
    balances = {f"m{i:02d}": v for i, v in enumerate(values)}
    start = time.perf_counter()
    transfers = simplify(balances)
    return (time.perf_counter() - start) * 1000, len(transfers)


def run(trials: int = TRIALS, sizes: range = SIZES, seed: int = SEED) -> list[dict[str, object]]:
    rng = random.Random(seed)
    rows: list[dict[str, object]] = []
    for shape, draw in SHAPES.items():
        for n in sizes:
            times, exact_counts, greedy_counts = [], [], []
            for _ in range(trials):
                values = _balances(rng, n, draw)
                ms, count = _exact(shape, values)
                times.append(ms)
                exact_counts.append(count)
                greedy_counts.append(len(greedy({f"m{i:02d}": v for i, v in enumerate(values)})))
            rows.append(
                {
                    "shape": shape,
                    "n": n,
                    "trials": trials,
                    "exact_ms_median": round(statistics.median(times), 2),
                    "exact_ms_max": round(max(times), 2),
                    "exact_transfers_mean": round(statistics.fmean(exact_counts), 2),
                    "greedy_transfers_mean": round(statistics.fmean(greedy_counts), 2),
                    "exact_fewer_in": sum(e < g for e, g in zip(exact_counts, greedy_counts, strict=True)),
                }
            )
    return rows


def main() -> None:
    rows = run()
    header = ["shape", "n", "trials", "exact_ms_median", "exact_ms_max", "exact_transfers_mean",
              "greedy_transfers_mean", "exact_fewer_in"]  # fmt: skip
    print(" | ".join(header))
    print(" | ".join("---" for _ in header))
    for row in rows:
        print(" | ".join(str(row[h]) for h in header))


if __name__ == "__main__":
    main()
