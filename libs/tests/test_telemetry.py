"""Traces: X-Ray-shaped ids, and context carried across a real grpc.aio hop by W3C or X-Ray headers."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from opentelemetry import trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from libs import logs, telemetry

EXPORTER = InMemorySpanExporter()
PROVIDER = telemetry.setup("test", extra_processors=[SimpleSpanProcessor(EXPORTER)])


@pytest.fixture
async def server_port() -> AsyncIterator[int]:
    server = grpc.aio.server(interceptors=telemetry.server_interceptors(PROVIDER))
    health_pb2_grpc.add_HealthServicer_to_server(health.aio.HealthServicer(), server)  # type: ignore[attr-defined]
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield port
    await server.stop(None)


def test_trace_ids_are_xray_compatible() -> None:
    tracer = PROVIDER.get_tracer("t")
    with tracer.start_as_current_span("s") as span:
        trace_id = span.get_span_context().trace_id
    xray = logs.xray_trace_id(trace_id)
    assert xray.startswith("1-") and len(xray) == 35
    epoch = int(xray[2:10], 16)
    assert abs(epoch - time.time()) < 600  # X-Ray requires the first 32 bits to be the start time


async def test_client_span_is_parent_of_server_span(server_port: int) -> None:
    EXPORTER.clear()
    tracer = PROVIDER.get_tracer("t")
    async with grpc.aio.insecure_channel(
        f"127.0.0.1:{server_port}", interceptors=telemetry.client_interceptors(PROVIDER)
    ) as channel:
        with tracer.start_as_current_span("caller") as root:
            await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
    spans = EXPORTER.get_finished_spans()
    server_spans = [s for s in spans if s.kind == trace.SpanKind.SERVER]
    assert server_spans, [s.name for s in spans]
    assert server_spans[0].context.trace_id == root.get_span_context().trace_id


@pytest.mark.parametrize("header", ["traceparent", "x-amzn-trace-id"])
async def test_server_continues_an_incoming_trace_from_either_header(server_port: int, header: str) -> None:
    EXPORTER.clear()
    trace_hex = f"{int(time.time()):08x}" + "0123456789abcdef01234567"
    parent = "00f067aa0ba902b7"
    value = (
        f"00-{trace_hex}-{parent}-01"
        if header == "traceparent"
        else f"Root=1-{trace_hex[:8]}-{trace_hex[8:]};Parent={parent};Sampled=1"
    )
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server_port}") as channel:
        await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), metadata=((header, value),)
        )
    server_spans = [s for s in EXPORTER.get_finished_spans() if s.kind == trace.SpanKind.SERVER]
    assert server_spans
    assert f"{server_spans[0].context.trace_id:032x}" == trace_hex
    assert server_spans[0].parent is not None and f"{server_spans[0].parent.span_id:016x}" == parent


def test_json_log_lines_carry_the_trace_id(capsys: pytest.CaptureFixture[str]) -> None:
    import json
    import logging

    logs.setup("test", "INFO")
    with PROVIDER.get_tracer("t").start_as_current_span("s") as span:
        logging.getLogger("hisaab.test").info("hello", extra={"rpc": "/x"})
        expected = logs.xray_trace_id(span.get_span_context().trace_id)
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["message"] == "hello" and line["rpc"] == "/x" and line["trace_id"] == expected


def test_an_outbox_event_carries_its_trace_to_the_consumer() -> None:
    EXPORTER.clear()
    tracer = PROVIDER.get_tracer("t")
    with tracer.start_as_current_span("request") as request:
        stored = telemetry.traceparent()
    assert stored is not None
    span, headers = telemetry.producing(stored, "events")
    assert span is not None
    telemetry.end_producing(span, accepted=True)
    # SNS -> SQS raw delivery: the headers arrive as message attributes.
    attributes = {k: {"DataType": "String", "StringValue": v} for k, v in headers.items()}
    with telemetry.consuming("events", attributes) as consumed:
        pass
    publish, handle = span.get_span_context(), consumed.get_span_context()
    trace_id = request.get_span_context().trace_id
    assert publish.trace_id == handle.trace_id == trace_id
    finished = {s.name: s for s in EXPORTER.get_finished_spans()}
    assert finished["events publish"].parent.span_id == request.get_span_context().span_id  # type: ignore[union-attr]
    assert finished["events process"].parent.span_id == publish.span_id  # type: ignore[union-attr]
    assert telemetry.producing(None, "events") == (None, {})
