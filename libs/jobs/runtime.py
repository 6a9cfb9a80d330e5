"""What every long-running worker process shares: stop on SIGTERM, a heartbeat file, logs.

Workers have no gRPC port, so liveness is a file whose mtime each loop
refreshes: the local stack waits for it to appear (readiness) and Kubernetes'
exec probe (``python -m libs.jobs.runtime --check``) fails when it goes stale.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from libs import logs, telemetry
from libs.loop import run as run_loop
from libs.metrics import export as metrics_export
from libs.settings import env_var, telemetry_settings

HEARTBEAT_ENV = "HISAAB_HEARTBEAT_FILE"
# /tmp is the pod's private emptyDir (read-only root filesystem otherwise).
DEFAULT_HEARTBEAT = "/tmp/hisaab-worker.alive"  # noqa: S108
STALE_AFTER_SECONDS = 120.0


class Heartbeat:
    def __init__(self, path: str | None = None):
        self.path = Path(path or env_var(HEARTBEAT_ENV) or DEFAULT_HEARTBEAT)
        self._last = 0.0

    def beat(self) -> None:
        """Cheap to call every loop: touches the file at most once a second."""
        now = time.monotonic()
        if now - self._last < 1.0:
            return
        self._last = now
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.touch()

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


def stale(path: Path, max_age: float = STALE_AFTER_SECONDS) -> bool:
    try:
        return time.time() - path.stat().st_mtime > max_age
    except FileNotFoundError:
        return True


def run_worker(name: str, main: Callable[[asyncio.Event, Heartbeat], Awaitable[None]]) -> None:
    """Run ``main`` until SIGTERM/SIGINT sets the event it is given; it finishes its current batch."""
    logs.setup(name, env_var("HISAAB_LOG_LEVEL", "INFO").upper())
    observing = telemetry_settings()
    telemetry.setup(
        name,
        exporter=observing.trace_exporter,
        otlp_endpoint=observing.otlp_endpoint,
        sample_ratio=observing.trace_sample_ratio,
    )
    metrics_export.setup(name, observing)
    heartbeat = Heartbeat()

    async def runner() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        try:
            await main(stop, heartbeat)
        finally:
            heartbeat.clear()
            metrics_export.shutdown()
            telemetry.shutdown()

    run_loop(runner())


async def sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    """Sleep, but wake at once when asked to stop."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


def _check() -> None:
    parser = argparse.ArgumentParser(description="Exit 1 when the worker's heartbeat is stale")
    parser.add_argument("--check", action="store_true", required=True)
    parser.add_argument("--max-age", type=float, default=STALE_AFTER_SECONDS)
    args = parser.parse_args()
    sys.exit(1 if stale(Heartbeat().path, args.max_age) else 0)


if __name__ == "__main__":
    _check()
