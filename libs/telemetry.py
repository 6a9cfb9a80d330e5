"""OpenTelemetry: X-Ray-compatible trace ids, W3C + X-Ray propagation, gRPC instrumentation.

The X-Ray propagator alone loses the context on a gRPC server (metadata keys
arrive lower-cased), so W3C ``traceparent`` is propagated as well; both are
injected on the way out, and either is accepted on the way in.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import grpc
from opentelemetry import propagate, trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.propagators.aws import AwsXRayPropagator
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.sdk.extension.aws.trace import AwsXRayIdGenerator
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_configured = False


def propagator() -> CompositePropagator:
    return CompositePropagator([TraceContextTextMapPropagator(), W3CBaggagePropagator(), AwsXRayPropagator()])


def setup(
    service: str,
    *,
    exporter: str = "none",
    otlp_endpoint: str = "",
    extra_processors: Sequence[SpanProcessor] = (),
) -> TracerProvider:
    """Install the global tracer provider once; ``exporter`` is otlp, console or none."""
    global _configured
    provider = TracerProvider(
        id_generator=AwsXRayIdGenerator(),
        resource=Resource.create({"service.name": f"hisaab-{service}", "service.namespace": "hisaab"}),
    )
    if exporter == "otlp" and otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_endpoint, insecure=True)))
    elif exporter == "console":
        provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
    for processor in extra_processors:
        provider.add_span_processor(processor)
    propagate.set_global_textmap(propagator())
    if not _configured:
        trace.set_tracer_provider(provider)
        _configured = True
    return provider


def server_interceptors(provider: TracerProvider | None = None) -> list[grpc.aio.ServerInterceptor]:
    from opentelemetry.instrumentation.grpc import aio_server_interceptor

    return [aio_server_interceptor(tracer_provider=provider)]


def client_interceptors(provider: TracerProvider | None = None) -> list[Any]:
    from opentelemetry.instrumentation.grpc import aio_client_interceptors

    return list(aio_client_interceptors(tracer_provider=provider))
