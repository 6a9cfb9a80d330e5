"""The benchmarks' CPU accounting names the parts of the stack and sees CPU being spent."""

from __future__ import annotations

import sys
import time

import pytest

from tools.bench import cpu


def test_parts_are_named_by_their_command_line() -> None:
    assert cpu._component("/venv/bin/python -m services.expense") == "expense"
    assert cpu._component("/venv/bin/python -m services.notification.worker") == "notification-worker"
    assert cpu._component("/venv/bin/python -m libs.outbox_relay") == "outbox-relay"
    assert cpu._component("/venv/lib/envoy/_bin/envoy -c /data/envoy.json") == "envoy"
    assert cpu._component("postgres: postgres hisaab [local] idle") == "postgres"
    assert cpu._component("python -c from moto.server import main; main()") == "aws-emulator"
    assert cpu._component("/usr/bin/bash") is None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_cpu_burnt_here_is_the_load_generators() -> None:
    before = cpu.snapshot()
    deadline = time.process_time() + 0.3
    while time.process_time() < deadline:
        pass
    after = cpu.snapshot()
    per_op = cpu.per_operation(before, after, 3)
    assert per_op["load generator"] >= 0.25 * 1000 / 3


def test_only_the_stack_under_test_counts() -> None:
    # pid: (parent, seconds, command line); 10 is the benchmark, 50 a detached PostgreSQL.
    table = {
        10: (1, 0.0, "python -m tools.bench"),
        11: (10, 0.0, "python -m services.expense"),
        12: (11, 0.0, "child of a service"),
        50: (1, 0.0, "postgres -D /tmp/x/postgres"),
        51: (50, 0.0, "postgres: writer"),
        90: (1, 0.0, "python -m services.expense"),  # another stack on the same machine
    }
    mine = {10, 50}
    assert [pid for pid in table if cpu._descends(pid, mine, table)] == [10, 11, 12, 50, 51]
