"""SIGUSR2 starts a CPU profile of the process and the next one writes it, for pstats to read."""

from __future__ import annotations

import asyncio
import os
import pstats
import sys
from pathlib import Path

from libs import profiling


def _busy(n: int) -> int:
    return sum(i * i for i in range(n))


async def test_two_signals_write_what_ran_between_them(tmp_path: Path) -> None:
    loop = asyncio.get_running_loop()
    profiling.install(loop, tmp_path, "probe")
    written = profiling.output(tmp_path, "probe", os.getpid())
    try:
        os.kill(os.getpid(), profiling.SIGNAL)
        for _ in range(500):  # until the loop has delivered it: this thread is being profiled
            if sys.getprofile() is not None:
                break
            await asyncio.sleep(0.01)
        _busy(1000)
        os.kill(os.getpid(), profiling.SIGNAL)
        for _ in range(200):  # until the profile is written
            if written.exists():
                break
            await asyncio.sleep(0.01)
        stats = pstats.Stats(str(written))
        calls = {name: row[1] for (_, _, name), row in stats.stats.items()}  # type: ignore[attr-defined]
        assert calls.get("_busy", 0) > 0
    finally:
        loop.remove_signal_handler(profiling.SIGNAL)
