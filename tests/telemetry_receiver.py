"""A local stand-in for the collector: OTLP/gRPC for the processes' spans (and metrics),
and the X-Ray daemon's UDP protocol for Envoy's segments. The suite's stack exports here,
so a test can follow one request's trace through every process."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass
from typing import Any

import grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

_KINDS = {1: "INTERNAL", 2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}


@dataclass(frozen=True)
class Span:
    trace_id: str  # 32 hex digits
    span_id: str  # 16 hex digits
    parent_id: str | None
    name: str
    service: str
    kind: str  # SERVER, CLIENT, PRODUCER, CONSUMER, INTERNAL; the gateway's segment is SERVER
    detail: str = ""  # the gateway's segment as JSON (its request URL, status ...)


class TelemetryReceiver:
    def __init__(self) -> None:
        self._spans: list[Span] = []
        self._lock = threading.Lock()
        self.metric_exports = 0
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_Traces(self._add_otlp), self._server)  # type: ignore[no-untyped-call]
        metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(_Metrics(self), self._server)  # type: ignore[no-untyped-call]
        self.otlp_port = self._server.add_insecure_port("127.0.0.1:0")
        self._udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._udp.bind(("127.0.0.1", 0))
        self._udp.settimeout(0.5)
        self.xray_port: int = self._udp.getsockname()[1]
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._read_segments, name="xray-daemon", daemon=True)

    @property
    def otlp_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.otlp_port}"

    def start(self) -> TelemetryReceiver:
        self._server.start()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._server.stop(None)
        self._thread.join(timeout=2)
        self._udp.close()

    def _add(self, spans: list[Span]) -> None:
        with self._lock:
            self._spans.extend(spans)

    def _add_otlp(self, request: trace_service_pb2.ExportTraceServiceRequest) -> None:
        found = []
        for resource_spans in request.resource_spans:
            attributes = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            service = attributes.get("service.name", "")
            for scope_spans in resource_spans.scope_spans:
                for s in scope_spans.spans:
                    found.append(
                        Span(
                            trace_id=s.trace_id.hex(),
                            span_id=s.span_id.hex(),
                            parent_id=s.parent_span_id.hex() or None,
                            name=s.name,
                            service=service,
                            kind=_KINDS.get(s.kind, "UNSPECIFIED"),
                        )
                    )
        self._add(found)

    def _read_segments(self) -> None:
        while not self._stopping.is_set():
            try:
                datagram = self._udp.recv(65536)
            except (TimeoutError, OSError):
                continue
            _, _, body = datagram.partition(b"\n")  # a header line, then the segment
            try:
                segment = json.loads(body)
            except ValueError:
                continue
            self._add(list(_segment_spans(segment, None)))

    def spans(self, trace_id: str) -> list[Span]:
        with self._lock:
            return [s for s in self._spans if s.trace_id == trace_id]

    def find(self, predicate: Callable[[Span], bool]) -> list[Span]:
        with self._lock:
            return [s for s in self._spans if predicate(s)]

    def wait_for(
        self, predicate: Callable[[list[Span]], bool], trace_id: str, timeout: float = 90.0
    ) -> list[Span]:
        """The trace's spans once ``predicate`` holds for them (exports are batched)."""
        deadline = time.monotonic() + timeout
        while True:
            spans = self.spans(trace_id)
            if predicate(spans):
                return spans
            if time.monotonic() >= deadline:
                raise AssertionError(f"trace {trace_id} incomplete after {timeout:.0f}s: {spans}")
            time.sleep(0.2)


def xray_to_w3c(trace_id: str) -> str:
    """``1-5f84c7a1-1234…`` (X-Ray) to the 32 hex digits OTLP uses."""
    _, epoch, rest = trace_id.split("-")
    return epoch + rest


def _segment_spans(segment: dict[str, Any], parent: str | None) -> list[Span]:
    trace_id = xray_to_w3c(segment["trace_id"]) if "trace_id" in segment else ""
    own = Span(
        trace_id=trace_id,
        span_id=segment["id"],
        parent_id=segment.get("parent_id") or parent,
        name=segment.get("name", ""),
        service="gateway",
        kind="SERVER",
        detail=json.dumps(segment),
    )
    out = [own]
    for sub in segment.get("subsegments", []):
        out += [
            Span(s.trace_id or trace_id, s.span_id, s.parent_id, s.name, s.service, "CLIENT")
            for s in _segment_spans(sub, own.span_id)
        ]
    return out


class _Traces(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, add: Callable[[trace_service_pb2.ExportTraceServiceRequest], None]):
        self._add = add

    def Export(self, request: Any, context: Any) -> trace_service_pb2.ExportTraceServiceResponse:
        self._add(request)
        return trace_service_pb2.ExportTraceServiceResponse()


class _Metrics(metrics_service_pb2_grpc.MetricsServiceServicer):
    def __init__(self, receiver: TelemetryReceiver):
        self._receiver = receiver

    def Export(self, request: Any, context: Any) -> metrics_service_pb2.ExportMetricsServiceResponse:
        self._receiver.metric_exports += 1
        return metrics_service_pb2.ExportMetricsServiceResponse()
