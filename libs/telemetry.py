"""OpenTelemetry: X-Ray-compatible trace ids, W3C + X-Ray propagation, gRPC instrumentation.

The X-Ray propagator alone loses the context on a gRPC server: it looks the
header up as ``X-Amzn-Trace-Id`` while gRPC metadata keys arrive lower-cased.
So W3C ``traceparent`` is propagated as well (both are injected on the way
out), and the X-Ray header is also read in any case, so a trace that arrives
with only the X-Ray header (API Gateway) is continued too.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, NamedTuple

import grpc
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.context import Context
from opentelemetry.propagators.aws import AwsXRayPropagator
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.propagators.textmap import CarrierT, Getter, default_getter
from opentelemetry.sdk.extension.aws.trace import AwsXRayIdGenerator
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor
from opentelemetry.sdk.trace.sampling import Decision, ParentBased, TraceIdRatioBased
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from libs.rpc.wrapping import Behavior, UnaryWrapper

_configured = False


class _AnyCaseGetter(Getter[CarrierT]):
    def __init__(self, inner: Getter[CarrierT]):
        self._inner = inner

    def get(self, carrier: CarrierT, key: str) -> list[str] | None:
        return self._inner.get(carrier, key) or self._inner.get(carrier, key.lower())

    def keys(self, carrier: CarrierT) -> list[str]:
        return self._inner.keys(carrier)


class AnyCaseXRayPropagator(AwsXRayPropagator):
    def extract(
        self, carrier: CarrierT, context: Context | None = None, getter: Getter[CarrierT] = default_getter
    ) -> Context:
        return super().extract(carrier, context=context, getter=_AnyCaseGetter(getter))


def propagator() -> CompositePropagator:
    return CompositePropagator(
        [TraceContextTextMapPropagator(), W3CBaggagePropagator(), AnyCaseXRayPropagator()]
    )


def setup(
    service: str,
    *,
    exporter: str = "none",
    otlp_endpoint: str = "",
    sample_ratio: float = 1.0,
    extra_processors: Sequence[SpanProcessor] = (),
) -> TracerProvider:
    """Install the global tracer provider once; ``exporter`` is otlp, console or none.

    A trace that arrives sampled (or not) stays so; a trace started here is kept with
    probability ``sample_ratio``."""
    global _configured
    provider = TracerProvider(
        sampler=ParentBased(TraceIdRatioBased(sample_ratio)),
        id_generator=_TraceIds(),
        resource=Resource.create({"service.name": f"hisaab-{service}", "service.namespace": "hisaab"}),
    )
    if exporter == "otlp" and otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(
            BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_endpoint, insecure=True))
        )
    elif exporter == "console":
        provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
    for processor in extra_processors:
        provider.add_span_processor(processor)
    propagate.set_global_textmap(propagator())
    if not _configured:
        trace.set_tracer_provider(provider)
        _configured = True
    return provider


# The metadata keys that carry a trace context in (the propagators above read these).
_TRACE_KEYS = frozenset({"traceparent", "x-amzn-trace-id", "baggage"})

# A trace id already drawn, and sampled by, the server interceptor: the span it then starts
# must carry that id, or the sampler would decide again on another.
_DRAWN_TRACE_ID: ContextVar[int | None] = ContextVar("hisaab_drawn_trace_id", default=None)


class _TraceIds(AwsXRayIdGenerator):
    def generate_trace_id(self) -> int:
        drawn = _DRAWN_TRACE_ID.get()
        if drawn is not None:
            _DRAWN_TRACE_ID.set(None)
            return drawn
        return super().generate_trace_id()


class _Method(NamedTuple):  # what OpenTelemetry's interceptor reads of a call's details
    method: str
    invocation_metadata: tuple[tuple[str, str], ...] = ()


class ServerSpans(UnaryWrapper):
    """A SERVER span per call whose trace is kept, by OpenTelemetry's own interceptor.

    Most calls are not sampled (5% are kept in production). For those, that interceptor
    would still read three header formats, build the span's attributes, create a span
    that records nothing and wrap the servicer context in a proxy: about 7% of a create's
    CPU. Here the tracer provider's sampler decides first, as it would for that span, and
    a call it drops only makes its trace context current, so the calls it makes to other
    services and its log lines carry the same trace, unsampled."""

    def __init__(self, provider: TracerProvider | None = None):
        super().__init__()
        from opentelemetry.instrumentation.grpc import aio_server_interceptor

        self._provider = provider
        self._full = aio_server_interceptor(tracer_provider=provider)  # type: ignore[no-untyped-call]

    async def wrap(self, method: str, inner: Behavior, handler: Any) -> Behavior | None:
        async def below(_: Any) -> Any:
            return handler

        traced: Behavior = (await self._full.intercept_service(below, _Method(method))).unary_unary
        provider = self._provider or trace.get_tracer_provider()
        if not isinstance(provider, TracerProvider):
            return traced  # no SDK installed: every span is a no-op anyway
        sampler, ids = provider.sampler, provider.id_generator

        async def behavior(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            metadata = context.invocation_metadata() or ()
            headers = {key: value for key, value in metadata if key in _TRACE_KEYS}
            parent = propagate.extract(headers) if headers else None
            remote = trace.get_current_span(parent).get_span_context() if parent is not None else None
            continued = remote is not None and remote.is_valid
            trace_id = remote.trace_id if remote is not None and continued else ids.generate_trace_id()
            decision = sampler.should_sample(parent, trace_id, method, trace.SpanKind.SERVER)
            if decision.decision is not Decision.DROP:  # a span that records: OpenTelemetry's
                drawn = _DRAWN_TRACE_ID.set(None if continued else trace_id)
                try:
                    return await traced(request, context)
                finally:
                    _DRAWN_TRACE_ID.reset(drawn)
            unsampled = trace.NonRecordingSpan(
                trace.SpanContext(
                    trace_id, ids.generate_span_id(), is_remote=False, trace_state=decision.trace_state
                )
            )
            token = otel_context.attach(trace.set_span_in_context(unsampled, parent))
            try:
                return await inner(request, context)
            finally:
                otel_context.detach(token)

        return behavior


def server_interceptors(provider: TracerProvider | None = None) -> list[Any]:
    return [ServerSpans(provider)]


def client_interceptors(provider: TracerProvider | None = None) -> list[Any]:
    from opentelemetry.instrumentation.grpc import aio_client_interceptors

    return list(aio_client_interceptors(tracer_provider=provider))  # type: ignore[no-untyped-call]


def shutdown() -> None:
    """Export the spans still buffered (a process that stops)."""
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.shutdown()


def carrier() -> dict[str, str]:
    """The current trace context as text headers (``traceparent`` ...), to store with an
    outbox event or send as message attributes; empty when there is no current span."""
    headers: dict[str, str] = {}
    propagate.inject(headers)
    return headers


def context_from(headers: Mapping[str, str]) -> Context:
    return propagate.extract(dict(headers))


def _message_attribute_values(attributes: Mapping[str, Any]) -> dict[str, str]:
    """SQS/SNS message attributes ({"Type"/"DataType", "StringValue"/"Value"}) to plain text."""
    out: dict[str, str] = {}
    for key, value in attributes.items():
        if isinstance(value, Mapping):
            text = value.get("StringValue", value.get("Value"))
            if isinstance(text, str):
                out[key] = text
    return out


@contextmanager
def consuming(queue: str, message_attributes: Mapping[str, Any]) -> Iterator[trace.Span]:
    """A CONSUMER span for one queue message, continuing the trace its attributes carry."""
    parent = context_from(_message_attribute_values(message_attributes))
    tracer = trace.get_tracer("hisaab.queues")
    with tracer.start_as_current_span(
        f"{queue} process",
        context=parent,
        kind=trace.SpanKind.CONSUMER,
        attributes={"messaging.system": "aws_sqs", "messaging.destination.name": queue},
    ) as span:
        yield span


@contextmanager
def continuing(headers: Mapping[str, str]) -> Iterator[None]:
    """Make the context ``headers`` carry current (a trace continued from stored text)."""
    token = otel_context.attach(context_from(headers))
    try:
        yield
    finally:
        otel_context.detach(token)


def traceparent() -> str | None:
    """The current span as a W3C ``traceparent`` (None outside a sampled span): what an
    outbox row stores. Formatted here, not through the propagators: it runs on every write."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid or not context.trace_flags.sampled:
        return None
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-01"


def producing(parent_traceparent: str | None, destination: str) -> tuple[trace.Span | None, dict[str, str]]:
    """A PRODUCER span for publishing one stored event, child of the trace that wrote it,
    and the headers that carry it to consumers; (None, {}) for an event with no trace."""
    if not parent_traceparent:
        return None, {}
    parent = propagate.extract({"traceparent": parent_traceparent})
    span = trace.get_tracer("hisaab.outbox").start_span(
        f"{destination} publish",
        context=parent,
        kind=trace.SpanKind.PRODUCER,
        attributes={"messaging.system": "aws_sns", "messaging.destination.name": destination},
    )
    headers: dict[str, str] = {}
    propagate.inject(headers, context=trace.set_span_in_context(span))
    return span, headers


def end_producing(span: trace.Span | None, accepted: bool) -> None:
    if span is None:
        return
    if not accepted:
        span.set_status(trace.Status(trace.StatusCode.ERROR, "the broker did not accept the event"))
    span.end()
