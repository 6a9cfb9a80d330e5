"""Metrics and traces of the running stack, read the way an operator would.

Metrics: each process's Prometheus endpoint (libs.metrics; names in
docs/observability.md) shows a REST call counted and timed under its method and
status code, and the relay reports the outbox's backlog age. Traces: one REST create is
one trace, from Envoy's segment through expense-service and the services it calls, the
outbox relay's publish and the notification worker's handling, with X-Ray trace ids.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support import Api, Session
from tests.telemetry_receiver import Span, TelemetryReceiver
from tools.devstack.stack import Stack

pytestmark = pytest.mark.e2e

RPC_COUNT = "rpc_server_duration_milliseconds_count"
RPC_BUCKET = "rpc_server_duration_milliseconds_bucket"


def scrape(stack: Stack, process: str) -> list[tuple[str, dict[str, str], float]]:
    text = httpx.get(stack.metrics_url(process), timeout=10).text
    return [
        (sample.name, dict(sample.labels), sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    ]


def sample(samples: list[tuple[str, dict[str, str], float]], name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels`` (0 when none)."""
    return sum(v for n, lbl, v in samples if n == name and all(lbl.get(k) == x for k, x in labels.items()))


def eventually(check: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.2)


def test_a_rest_call_is_counted_and_timed_under_its_method_and_code(api: Api, stack: Stack) -> None:
    owner = api.sign_in()
    labels = {"rpc_service": "hisaab.group.v1.GroupService", "rpc_method": "CreateGroup"}
    before = scrape(stack, "group")
    created = api.call("POST", "/v1/groups", owner, json={"displayName": "Metrics", "kind": "TRIP"})
    assert created.status_code == 200, created.text
    refused = api.call("POST", "/v1/groups", owner, json={"displayName": "", "kind": "TRIP"})
    assert refused.status_code == 400, refused.text

    after = scrape(stack, "group")
    for code in ("OK", "INVALID_ARGUMENT"):
        moved = sample(after, RPC_COUNT, rpc_grpc_status_code=code, **labels) - sample(
            before, RPC_COUNT, rpc_grpc_status_code=code, **labels
        )
        assert moved == 1, code
    # The +Inf bucket holds every call; the finest ones only the fast.
    everything = sample(after, RPC_BUCKET, rpc_grpc_status_code="OK", le="+Inf", **labels)
    assert everything == sample(after, RPC_COUNT, rpc_grpc_status_code="OK", **labels)
    assert sample(after, "rpc_server_active_requests", **labels) == 0


def test_the_relay_reports_the_outbox_backlog_and_its_age(stack: Stack) -> None:
    def reported() -> list[tuple[str, dict[str, str], float]]:
        samples = scrape(stack, "outbox-relay")
        names = {n for n, _, _ in samples}
        return samples if {"hisaab_outbox_oldest_age_seconds", "hisaab_outbox_backlog"} <= names else []

    samples = eventually(reported)
    assert sample(samples, "hisaab_outbox_oldest_age_seconds") >= 0
    assert sample(samples, "hisaab_outbox_backlog") >= 0


def _create_expense(api: Api) -> tuple[Session, str]:
    asha, ravi = api.sign_in(), api.sign_in()
    group = api.call("POST", "/v1/groups", asha, json={"displayName": "Traced", "kind": "HOME"}).json()[
        "name"
    ]
    added = api.call("POST", f"/v1/{group}/members", asha, json={"phoneNumber": ravi.phone})
    assert added.status_code == 200, added.text
    request_id = str(uuid.uuid4())
    body = {
        "description": "Traced dinner",
        "category": "FOOD",
        "transactionDate": {"year": 2026, "month": 11, "day": 1},
        "total": {"currencyCode": "INR", "amountMinor": "60000"},
        "payers": [{"user": f"users/{asha.user_id}", "paidMinor": "60000"}],
        "split": {"equal": {"participants": [f"users/{asha.user_id}", f"users/{ravi.user_id}"]}},
    }
    created = api.call("POST", f"/v1/{group}/expenses", asha, json=body, params={"requestId": request_id})
    assert created.status_code == 200, created.text
    return asha, request_id


def _ancestors(span: Span, by_id: dict[str, Span]) -> list[Span]:
    chain = []
    while span.parent_id is not None:
        span = by_id[span.parent_id]
        chain.append(span)
    return chain


def test_one_rest_create_is_one_trace_from_the_gateway_to_the_notification_worker(
    api: Api, telemetry_receiver: TelemetryReceiver
) -> None:
    _, request_id = _create_expense(api)
    started = time.time()

    gateway = eventually(
        lambda: telemetry_receiver.find(lambda s: s.service == "gateway" and request_id in s.detail),
        timeout=60,
    )
    assert len(gateway) == 1
    root = gateway[0]
    trace_id = root.trace_id

    def complete(spans: list[Span]) -> bool:
        # Each process exports on its own schedule: wait until the worker's handling is in
        # and no span's parent is still on its way.
        names = {(s.service, s.kind) for s in spans}
        ids = {s.span_id for s in spans}
        return {
            ("hisaab-outbox-relay", "PRODUCER"),
            ("hisaab-notification-worker", "CONSUMER"),
        } <= names and all(s.parent_id is None or s.parent_id in ids for s in spans)

    spans = telemetry_receiver.wait_for(complete, trace_id, timeout=120)
    by_id = {s.span_id: s for s in spans}

    # X-Ray ids: the trace id starts with its start time in seconds.
    assert abs(int(trace_id[:8], 16) - started) < 600
    # One tree: the gateway's segment is the only root, every other span's parent is in it.
    assert [s for s in spans if s.parent_id is None] == [root]
    assert all(s.parent_id in by_id for s in spans if s is not root)

    create = [s for s in spans if s.kind == "SERVER" and s.name.endswith("ExpenseService/CreateExpense")]
    assert len(create) == 1 and create[0].parent_id == root.span_id
    assert create[0].service == "hisaab-expense"
    # Calls to other services hang under the create: client span, then the callee's server span.
    for server in [s for s in spans if s.kind == "SERVER" and s not in (root, create[0])]:
        client = by_id[server.parent_id]  # type: ignore[index]
        assert client.kind == "CLIENT" and create[0] in _ancestors(client, by_id), server
    # The outbox row carried the trace to the relay, SNS/SQS carried it to the worker.
    publishes = [s for s in spans if s.kind == "PRODUCER"]
    assert publishes and all(create[0] in _ancestors(p, by_id) for p in publishes)
    handled = [s for s in spans if s.kind == "CONSUMER"]
    assert handled and all(by_id[h.parent_id] in publishes for h in handled)  # type: ignore[index]
