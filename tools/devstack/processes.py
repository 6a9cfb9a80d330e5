"""A small supervisor for the stack's child processes.

Children get their own process group, so a Ctrl-C in the terminal reaches only
the parent, which then stops them in order. On Linux they also get a parent-death
signal, so they never outlive the parent. The kernel sends it when the *thread*
that started the child exits: start the stack from a long-lived thread (the main
thread, as ``make run`` and pytest's session fixtures do).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

_PR_SET_PDEATHSIG = 1
_SERVING = health_pb2.HealthCheckResponse.SERVING


class ProcessFailed(RuntimeError):
    """A child exited or did not become ready; the message carries its log tail."""


def _parent_death_hook() -> Callable[[], None] | None:
    if not sys.platform.startswith("linux"):
        return None
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return None
    # Resolved here, in the parent: the child between fork and exec should only
    # make the syscall, not load libraries.
    prctl = ctypes.CDLL(libc_name, use_errno=True).prctl
    parent = os.getpid()

    def hook() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os.kill(os.getpid(), signal.SIGKILL)

    return hook


def child_setup(nice: int = 0) -> Callable[[], None] | None:
    """What a child runs before exec: the parent-death signal and, if asked, a lower CPU
    priority (see Stack's ``background_nice``)."""
    death = _parent_death_hook()
    if not nice:
        return death

    def hook() -> None:
        if death is not None:
            death()
        os.nice(nice)

    return hook


class ManagedProcess:
    """One child process with its log file; optionally echoes its output to the console."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        log_path: Path,
        echo: bool = False,
        cwd: Path | None = None,
        nice: int = 0,
    ) -> None:
        self.name = name
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log: IO[bytes] = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        self._echo_thread: threading.Thread | None = None
        self.popen: subprocess.Popen[bytes] = subprocess.Popen(
            list(argv),
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            # Without echo the child writes straight to its log and never blocks on us.
            stdout=subprocess.PIPE if echo else self._log,
            stderr=subprocess.STDOUT,
            process_group=0,
            preexec_fn=child_setup(nice),
        )
        if echo:
            self._echo_thread = threading.Thread(target=self._copy_output, name=f"echo-{name}", daemon=True)
            self._echo_thread.start()

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def _copy_output(self) -> None:
        assert self.popen.stdout is not None
        prefix = f"[{self.name}] ".encode()
        for line in self.popen.stdout:
            self._log.write(line)
            self._log.flush()
            sys.stdout.buffer.write(prefix + line)
            sys.stdout.flush()

    def log_tail(self, lines: int = 30) -> str:
        self._log.flush()
        try:
            with open(self.log_path, "rb") as log:
                return b"".join(deque(log, maxlen=lines)).decode(errors="replace")
        except OSError:
            return ""

    def failure(self, reason: str) -> ProcessFailed:
        return ProcessFailed(f"{self.name}: {reason}; last lines of {self.log_path}:\n{self.log_tail()}")

    def terminate(self) -> None:
        """SIGTERM to the whole group, so anything the child started stops too."""
        self._signal(signal.SIGTERM)

    def _signal(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, sig)

    def wait_stopped(self, deadline: float) -> int:
        """Wait until ``deadline`` (time.monotonic), then SIGKILL; returns the exit code."""
        try:
            code = self.popen.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)
            code = self.popen.wait()
        self._signal(signal.SIGKILL)  # leftovers in the group, if any
        if self._echo_thread is not None:
            self._echo_thread.join(timeout=2)
        self._log.close()
        return code

    def stop(self, grace: float = 10.0) -> int:
        self.terminate()
        return self.wait_stopped(time.monotonic() + grace)


def wait_until_serving(
    proc: ManagedProcess, address: str, grpc_service: str, *, timeout: float = 30.0
) -> None:
    """Poll grpc.health.v1 Check for ``grpc_service`` until it answers SERVING."""
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    with grpc.insecure_channel(address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        while True:
            if not proc.alive():
                raise proc.failure(f"exited with code {proc.popen.returncode} before it was serving")
            try:
                reply = health.Check(health_pb2.HealthCheckRequest(service=grpc_service), timeout=1.0)
                if reply.status == _SERVING:
                    return
                last = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
            except grpc.RpcError as err:
                last = f"{err.code().name}: {err.details()}"
            if time.monotonic() >= deadline:
                raise proc.failure(f"not SERVING on {address} after {timeout:.0f}s (last: {last})")
            time.sleep(0.1)


def wait_until_file(proc: ManagedProcess, path: Path, *, timeout: float = 30.0) -> None:
    """Readiness of a worker (no gRPC port): it creates its heartbeat file once running."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        if not proc.alive():
            raise proc.failure(f"exited with code {proc.popen.returncode} before it was running")
        if time.monotonic() >= deadline:
            raise proc.failure(f"no heartbeat at {path} after {timeout:.0f}s")
        time.sleep(0.1)


class Supervisor:
    """Starts processes, remembers them, and stops them all together."""

    def __init__(self, log_dir: Path, *, echo: bool = False, grace: float = 10.0) -> None:
        self.log_dir = log_dir
        self.echo = echo
        self.grace = grace
        self.processes: list[ManagedProcess] = []

    def start(
        self,
        name: str,
        argv: Sequence[str],
        env: Mapping[str, str],
        *,
        cwd: Path | None = None,
        nice: int = 0,
    ) -> ManagedProcess:
        proc = ManagedProcess(
            name, argv, env=env, log_path=self.log_dir / f"{name}.log", echo=self.echo, cwd=cwd, nice=nice
        )
        self.processes.append(proc)
        return proc

    def start_python_module(
        self, name: str, module: str, env: Mapping[str, str], *, cwd: Path | None = None, nice: int = 0
    ) -> ManagedProcess:
        return self.start(name, [sys.executable, "-m", module], env, cwd=cwd, nice=nice)

    def dead(self) -> list[ManagedProcess]:
        return [p for p in self.processes if not p.alive()]

    def stop_all(self) -> dict[str, int]:
        """SIGTERM every child at once, give them ``grace`` seconds together, then SIGKILL."""
        for proc in self.processes:
            proc.terminate()
        deadline = time.monotonic() + self.grace
        codes = {proc.name: proc.wait_stopped(deadline) for proc in self.processes}
        self.processes.clear()
        return codes
