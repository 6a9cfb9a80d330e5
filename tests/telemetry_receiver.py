"""A local stand-in for the collector: OTLP/gRPC for the processes' spans (and metrics),
and the X-Ray daemon's UDP protocol for Envoy's segments. The suite's stack exports here,
so a test can follow one request's trace through every process.

The receiver runs as a process of its own (``python -m tests.telemetry_receiver <dir>``)
that appends each span to ``<dir>/spans.jsonl``: a gRPC server in the test process
would be forked with every child the stack starts, and gRPC may abort such a child
before it execs. ``TelemetryReceiver`` starts it and reads the file."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

_KINDS = {1: "INTERNAL", 2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}
ROOT = Path(__file__).resolve().parents[1]


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
    """The test side: starts the receiver process and reads the spans it wrote."""

    def __init__(self, directory: Path):
        self._dir = directory
        self._spans: list[Span] = []
        self._offset = 0
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self.otlp_port = 0
        self.xray_port = 0

    @property
    def otlp_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.otlp_port}"

    def start(self, timeout: float = 120.0) -> TelemetryReceiver:
        self._dir.mkdir(parents=True, exist_ok=True)
        ready = self._dir / "ready.json"
        ready.unlink(missing_ok=True)
        log = open(self._dir / "receiver.log", "ab")  # noqa: SIM115 - the child holds it
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "tests.telemetry_receiver", str(self._dir)],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while not ready.exists():
            if self._proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the telemetry receiver did not start; see {self._dir / 'receiver.log'}")
            time.sleep(0.1)
        ports = json.loads(ready.read_text())
        self.otlp_port, self.xray_port = ports["otlp"], ports["xray"]
        return self

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(timeout=10)

    def _read(self) -> list[Span]:
        with self._lock:
            path = self._dir / "spans.jsonl"
            if path.exists():
                with open(path, "rb") as spans:
                    spans.seek(self._offset)
                    chunk = spans.read()
                complete = chunk[: chunk.rfind(b"\n") + 1]  # a line still being written waits
                self._offset += len(complete)
                self._spans += [Span(**json.loads(line)) for line in complete.splitlines() if line]
            return list(self._spans)

    def spans(self, trace_id: str) -> list[Span]:
        return [s for s in self._read() if s.trace_id == trace_id]

    def find(self, predicate: Callable[[Span], bool]) -> list[Span]:
        return [s for s in self._read() if predicate(s)]

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
            dataclasses.replace(s, trace_id=s.trace_id or trace_id, kind="CLIENT")
            for s in _segment_spans(sub, own.span_id)
        ]
    return out


# The receiver process.


class _Writer:
    def __init__(self, out: IO[str]):
        self._out = out
        self._lock = threading.Lock()

    def write(self, spans: list[Span]) -> None:
        with self._lock:
            for span in spans:
                self._out.write(json.dumps(dataclasses.asdict(span)) + "\n")
            self._out.flush()


def _otlp_spans(request: Any) -> list[Span]:
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
    return found


def _read_segments(udp: socket.socket, writer: _Writer) -> None:
    while True:
        datagram = udp.recv(65536)
        _, _, body = datagram.partition(b"\n")  # a header line, then the segment
        try:
            segment = json.loads(body)
        except ValueError:
            continue
        writer.write(_segment_spans(segment, None))


def serve(directory: Path) -> None:
    import grpc
    from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

    writer = _Writer(open(directory / "spans.jsonl", "a"))  # noqa: SIM115 - open while serving

    class Traces(trace_service_pb2_grpc.TraceServiceServicer):
        def Export(self, request: Any, context: Any) -> Any:
            writer.write(_otlp_spans(request))
            return trace_service_pb2.ExportTraceServiceResponse()

    class Metrics(metrics_service_pb2_grpc.MetricsServiceServicer):
        def Export(self, request: Any, context: Any) -> Any:
            return metrics_service_pb2.ExportMetricsServiceResponse()

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Traces(), server)  # type: ignore[no-untyped-call]
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(Metrics(), server)  # type: ignore[no-untyped-call]
    otlp_port = server.add_insecure_port("127.0.0.1:0")
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    threading.Thread(target=_read_segments, args=(udp, writer), daemon=True).start()
    server.start()
    ready = directory / "ready.json"
    ready.with_suffix(".tmp").write_text(json.dumps({"otlp": otlp_port, "xray": udp.getsockname()[1]}))
    ready.with_suffix(".tmp").rename(ready)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    while not stopping.wait(1.0):
        if os.getppid() == 1:  # the test run is gone
            break
    server.stop(None)


if __name__ == "__main__":
    serve(Path(sys.argv[1]))
