"""A stack of its own for the fault-injection tests.

These tests freeze, kill and restart PostgreSQL, Valkey and service processes, so
they never touch the session stack the other tests share: the package starts
its own (its own embedded PostgreSQL and Valkey even when DATABASE_URL or
REDIS_URL point at shared servers) and stops it when the package is done.

HISAAB_FAULTS_SCALE=full runs the full sizes (10,000 relay events) instead of the
quick ones ``make test`` runs (see control.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.faults.control import REQUEST_BUDGET_SECONDS, full_scale
from tests.support import SIGN_IN_LIMITS_ENV, Api
from tools.devstack.stack import Stack, free_ports


def pytest_configure(config: pytest.Config) -> None:
    full_scale()  # a misspelt HISAAB_FAULTS_SCALE fails the run at once


@pytest.fixture(scope="package")
def fault_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with pytest.MonkeyPatch.context() as patch:
        # Embedded servers only: freezing a shared PostgreSQL would break everyone else.
        patch.delenv("DATABASE_URL", raising=False)
        patch.delenv("REDIS_URL", raising=False)
        stack = Stack(
            tmp_path_factory.mktemp("faults"),
            ports=free_ports(),
            database=f"hisaab_faults_{os.getpid()}",
            env={
                "HISAAB_ENV": "test",
                "HISAAB_SHUTDOWN_GRACE_SECONDS": "5",
                "HISAAB_SHUTDOWN_DRAIN_SECONDS": "1",
                "HISAAB_LOG_LEVEL": "WARNING",
                "HISAAB_REQUEST_TIMEOUT_SECONDS": str(REQUEST_BUDGET_SECONDS),
                # The loads sign in many people from this machine's address.
                **SIGN_IN_LIMITS_ENV,
            },
            processes={"expense": 2},
            startup_timeout=180,  # a busy CI machine starts six services slowly
        )
        stack.start()
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="package")
def fault_api(fault_stack: Stack) -> Iterator[Api]:
    client = Api(fault_stack)
    yield client
    client.http.close()
