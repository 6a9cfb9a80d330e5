"""The event loop every process runs on: uvloop where it is installed, else asyncio's own.

uvloop does the loop's bookkeeping and socket I/O in C (libuv). A service process is
one loop on one thread, so that work is a large part of its CPU per request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    try:
        import uvloop
    except ImportError:  # not built for this platform (Windows): the standard loop
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)
