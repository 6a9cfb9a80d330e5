"""A deterministic profile of a running service, on request (development only).

With ``HISAAB_PROFILE_DIR`` set, a service process answers SIGUSR2 by starting cProfile and,
at the next SIGUSR2, by writing what it recorded to ``<dir>/cprofile-<service>-<pid>.out``
(``pstats`` format). The clock is the thread's own CPU time, so time spent waiting for I/O
or for the machine's other processes is not counted: a saturated benchmark machine does not
push the I/O to the top, as a sampling profiler's wall-clock view does there.
``python -m tools.bench.profile --cprofile`` drives it under the create load.
"""

from __future__ import annotations

import asyncio
import cProfile
import os
import signal
import time
from pathlib import Path

SIGNAL = signal.SIGUSR2


def output(directory: Path, service: str, pid: int) -> Path:
    return directory / f"cprofile-{service}-{pid}.out"


def install(loop: asyncio.AbstractEventLoop, directory: Path, service: str) -> None:
    """SIGUSR2 starts the profile, the next one writes it (and a third starts a new one)."""
    profile: list[cProfile.Profile] = []

    def toggle() -> None:
        if profile:
            running = profile.pop()
            running.disable()
            directory.mkdir(parents=True, exist_ok=True)
            running.dump_stats(output(directory, service, os.getpid()))
        else:
            profile.append(cProfile.Profile(time.thread_time))
            profile[0].enable()

    loop.add_signal_handler(SIGNAL, toggle)
