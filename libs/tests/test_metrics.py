"""The kit's instruments record what happened, under the names docs/observability.md lists."""

from __future__ import annotations

import time
from typing import Any

import pytest
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from libs.metrics import aggregate, business, caches, export, names
from libs.metrics.outbox import OutboxGauges
from libs.metrics.queues import QueueMetrics
from libs.metrics.rpc import RPC
from libs.settings import TelemetrySettings


class _Reader(aggregate.Merging, InMemoryMetricReader):
    pass


READER = _Reader()
QUIET = TelemetrySettings("", "none", 1.0, "none", 60, 0, "127.0.0.1")


@pytest.fixture(scope="module", autouse=True)
def _provider() -> None:
    export.setup("test", QUIET, extra_readers=[READER])


def points(name: str) -> list[Any]:
    data = READER.get_metrics_data()
    assert data is not None
    return [
        point
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for metric in sm.metrics
        if metric.name == name
        for point in metric.data.data_points
    ]


def value(name: str, **attributes: Any) -> Any:
    found = [p for p in points(name) if all(p.attributes.get(k) == v for k, v in attributes.items())]
    assert len(found) == 1, (name, attributes, points(name))
    return found[0]


class _Context:
    def code(self) -> Any:
        import grpc

        return grpc.StatusCode.NOT_FOUND


def test_an_rpc_is_timed_counted_by_code_and_in_flight_while_it_runs() -> None:
    path = "/hisaab.test.v1.TestService/Create"
    started = RPC.started(path)
    assert value(names.RPC_ACTIVE, **{"rpc.method": "Create"}).value == 1
    time.sleep(0.002)
    RPC.finished(path, "OK", started)
    RPC.finished(path, "ABORTED_BY_HANDLER", RPC.started(path), _Context())
    ok = value(names.RPC_DURATION, **{"rpc.method": "Create", "rpc.grpc.status_code": "OK"})
    assert ok.count == 1 and ok.sum >= 2.0
    assert ok.attributes["rpc.service"] == "hisaab.test.v1.TestService"
    missing = value(names.RPC_DURATION, **{"rpc.method": "Create", "rpc.grpc.status_code": "NOT_FOUND"})
    assert missing.count == 1
    assert value(names.RPC_ACTIVE, **{"rpc.method": "Create"}).value == 0


def _roster_reads() -> int:
    return sum(p.value for p in points(names.CACHE_REQUESTS) if p.attributes["cache.name"] == "roster")


def test_cache_reads_count_hits_and_misses_per_cache() -> None:
    before = _roster_reads()
    caches.read("roster:g1", "hit")
    caches.read("roster:g2", "miss")
    caches.read("hisaab:features:v1:u1", "miss")
    assert value(names.CACHE_REQUESTS, **{"cache.name": "features", "cache.result": "miss"}).value >= 1
    assert _roster_reads() == before + 2


def test_queue_outcomes_and_lag() -> None:
    queue = QueueMetrics("test-queue")
    queue.received([int(time.time() * 1000) - 3000, int(time.time() * 1000)])
    lag = value(names.QUEUE_LAG, **{"messaging.destination.name": "test-queue"}).value
    assert 2.5 < lag < 60
    queue.done("handled", time.perf_counter())
    queue.done("dead_lettered", time.perf_counter())
    assert value(names.QUEUE_MESSAGES, outcome="dead_lettered").value == 1
    queue.received([])
    assert value(names.QUEUE_LAG, **{"messaging.destination.name": "test-queue"}).value == 0


def test_outbox_age_grows_between_probes_and_business_counts_come_from_published_events() -> None:
    gauges = OutboxGauges()
    gauges.backlog, gauges._age, gauges._probed_at = 3, 10.0, time.monotonic() - 5
    assert value(names.OUTBOX_BACKLOG).value == 3
    assert 14.9 < value(names.OUTBOX_OLDEST_AGE).value < 60
    gauges.published(["expense.created", "expense.created", "settlement.recorded", "group.updated"])
    assert value(names.OUTBOX_PUBLISHED, **{"event.type": "expense.created"}).value == 2
    assert value(names.EXPENSES_CREATED).value >= 2
    assert value(names.SETTLEMENTS_RECORDED).value >= 1
    business.otp_sent("SMS")
    assert value(names.OTPS_SENT, channel="sms").value >= 1
