"""Traces: X-Ray-shaped ids, and context carried across a real grpc.aio hop by W3C or X-Ray headers."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from opentelemetry import trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult, TraceIdRatioBased

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


# A provider that keeps half of the traces it starts, and a method that says which trace
# it ran in: the server decides before OpenTelemetry's interceptor, and must agree with it.
HALF_EXPORTER = InMemorySpanExporter()
HALF = telemetry.setup("test", sample_ratio=0.5, extra_processors=[SimpleSpanProcessor(HALF_EXPORTER)])
RATIO = TraceIdRatioBased(0.5)


class _Recording(Sampler):
    def __init__(self, inner: Sampler):
        self.inner = inner
        self.kept: set[int] = set()

    def should_sample(self, parent_context: Any, trace_id: int, *args: Any, **kwargs: Any) -> SamplingResult:
        result = self.inner.should_sample(parent_context, trace_id, *args, **kwargs)
        if result.decision is Decision.RECORD_AND_SAMPLE:
            self.kept.add(trace_id)
        return result

    def get_description(self) -> str:
        return self.inner.get_description()


HALF.sampler = SAMPLER = _Recording(HALF.sampler)
SENT: list[dict[str, str]] = []  # the trace headers each call would send to another service


@pytest.fixture
async def half_sampled() -> AsyncIterator[tuple[grpc.aio.Channel, list[trace.SpanContext]]]:
    seen: list[trace.SpanContext] = []

    async def call(request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
        seen.append(trace.get_current_span().get_span_context())
        SENT.append(telemetry.carrier())
        return request

    server = grpc.aio.server(interceptors=telemetry.server_interceptors(HALF))
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("t.Echo", {"Call": grpc.unary_unary_rpc_method_handler(call)}),)
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield channel, seen
    await server.stop(None)


async def test_a_call_without_a_trace_is_sampled_once_by_its_own_trace_id(
    half_sampled: tuple[grpc.aio.Channel, list[trace.SpanContext]],
) -> None:
    channel, seen = half_sampled
    HALF_EXPORTER.clear()
    SAMPLER.kept.clear()
    for _ in range(40):
        assert await channel.unary_unary("/t.Echo/Call", None, None)(b"x") == b"x"
    kept = {
        c.trace_id
        for c in seen
        if RATIO.should_sample(None, c.trace_id, "x").decision is Decision.RECORD_AND_SAMPLE
    }
    assert all(c.is_valid for c in seen) and len({c.trace_id for c in seen}) == 40
    assert all(c.trace_flags.sampled == (c.trace_id in kept) for c in seen)
    assert 0 < len(kept) < 40  # both paths ran (each call is a coin toss: 2 in 2**40 to fail)
    # Every trace the sampler kept is one a call ran in: it did not decide again on another id.
    assert SAMPLER.kept == kept
    # A span for exactly the calls the sampler kept, in the trace the call ran in; none for the rest.
    spans = [s for s in HALF_EXPORTER.get_finished_spans() if s.kind == trace.SpanKind.SERVER]
    assert sorted(s.context.trace_id for s in spans) == sorted(kept)
    assert all(s.name == "/t.Echo/Call" and s.attributes["rpc.method"] == "Call" for s in spans)  # type: ignore[index]


@pytest.mark.parametrize("header", ["traceparent", "x-amzn-trace-id"])
async def test_an_unsampled_incoming_trace_is_carried_on_without_a_span(
    half_sampled: tuple[grpc.aio.Channel, list[trace.SpanContext]], header: str
) -> None:
    channel, seen = half_sampled
    HALF_EXPORTER.clear()
    trace_hex = f"{int(time.time()):08x}" + "fedcba9876543210fedcba98"
    value = (
        f"00-{trace_hex}-00f067aa0ba902b7-00"
        if header == "traceparent"
        else f"Root=1-{trace_hex[:8]}-{trace_hex[8:]};Parent=00f067aa0ba902b7;Sampled=0"
    )
    await channel.unary_unary("/t.Echo/Call", None, None)(b"x", metadata=((header, value),))
    assert f"{seen[-1].trace_id:032x}" == trace_hex and not seen[-1].trace_flags.sampled
    # What the call sends on says the same: this trace, not sampled.
    assert SENT[-1]["traceparent"].startswith(f"00-{trace_hex}-") and SENT[-1]["traceparent"].endswith("-00")
    assert HALF_EXPORTER.get_finished_spans() == ()
