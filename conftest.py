"""Session fixtures shared by every test directory: one real local stack.

PostgreSQL, Valkey, the AWS emulator, every implemented service and Envoy run
on free ports with their own data dir and a fresh database, so the suite runs
beside ``make run`` and leaves nothing behind. Started only when a test asks.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator

import pytest

from tests import clock
from tests.support import LEDGER_PROCESSES, SIGN_IN_LIMITS_ENV, Api
from tests.telemetry_receiver import TelemetryReceiver
from tools.devstack.stack import Stack, free_ports

ORDER_VARIABLE = "HISAAB_TEST_ORDER"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Stress tests run last: the thousands of events they queue take the AWS emulator a
    while to work through (its queues slow down as they grow), and the tests that wait for
    a notification should not queue behind them.

    HISAAB_TEST_ORDER=reverse or shuffle:<seed> runs the rest in another order, to show that
    no test depends on what ran before it."""
    order = os.environ.get(ORDER_VARIABLE, "")
    if order == "reverse":
        items.reverse()
    elif order.startswith("shuffle:"):
        random.Random(order.removeprefix("shuffle:")).shuffle(items)
    elif order:
        raise pytest.UsageError(f"{ORDER_VARIABLE} must be reverse or shuffle:<seed>, not {order!r}")
    items.sort(key=lambda item: item.get_closest_marker("stress") is not None)


@pytest.fixture(scope="session")
def telemetry_receiver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TelemetryReceiver]:
    """Where the stack's processes send spans (OTLP) and Envoy its X-Ray segments."""
    receiver = TelemetryReceiver(tmp_path_factory.mktemp("telemetry")).start()
    yield receiver
    receiver.stop()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory, telemetry_receiver: TelemetryReceiver) -> Iterator[Stack]:
    data_dir = tmp_path_factory.mktemp("stack")
    with Stack(
        data_dir,
        ports=free_ports(),
        database=f"hisaab_test_{os.getpid()}",
        env={
            "HISAAB_ENV": "test",
            "HISAAB_SHUTDOWN_GRACE_SECONDS": "2",
            "HISAAB_SHUTDOWN_DRAIN_SECONDS": "0",
            "HISAAB_LOG_LEVEL": "WARNING",
            # Every trace is kept, and spans leave each process within a fifth of a second.
            "OTEL_EXPORTER_OTLP_ENDPOINT": telemetry_receiver.otlp_endpoint,
            "HISAAB_TRACE_SAMPLE_RATIO": "1",
            "OTEL_BSP_SCHEDULE_DELAY": "200",
            **SIGN_IN_LIMITS_ENV,
        },
        processes=LEDGER_PROCESSES,
        trace_daemon=("127.0.0.1", telemetry_receiver.xray_port),
        # A loaded machine (other stacks, no bytecode cache) can take minutes to import everything.
        startup_timeout=180,
    ) as running:
        yield running


@pytest.fixture(scope="session")
def api(stack: Stack) -> Iterator[Api]:
    client = Api(stack)
    yield client
    client.http.close()


@pytest.fixture(scope="session")
def database_url(stack: Stack) -> str:
    """The stack's migrated test database (libpq URL)."""
    return stack.database_url


@pytest.fixture(autouse=True)
def _moved_clock(request: pytest.FixtureRequest) -> None:
    """In a time-travel run, each test marked ``clock`` starts at the run's instant."""
    instant = clock.target()
    if instant is None or not clock.moves(request.node):
        return
    running: Stack | None = request.getfixturevalue("stack") if "stack" in request.fixturenames else None
    clock.anchor(instant, running.database_url if running else None)
