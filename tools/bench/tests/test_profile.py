"""The profile tool's table: inclusive CPU per operation, outer functions above inner ones."""

from __future__ import annotations

import cProfile
import pstats
import time

from tools.bench.profile import inclusive


def _inner() -> int:
    return sum(i * i for i in range(50_000))


def _outer() -> int:
    return _inner() + _inner()


def test_inclusive_cpu_per_operation_puts_the_caller_above_what_it_calls() -> None:
    profile = cProfile.Profile(time.thread_time)
    profile.enable()
    for _ in range(4):
        _outer()
    profile.disable()
    rows = dict(inclusive(pstats.Stats(profile), operations=4, top=50))
    outer = next(ms for name, ms in rows.items() if name.startswith("_outer "))
    inner = next(ms for name, ms in rows.items() if name.startswith("_inner "))
    assert outer >= inner > 0
    assert not any(name.startswith("<built-in") for name in rows)  # builtins are left out
