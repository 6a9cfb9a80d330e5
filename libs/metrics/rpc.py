"""RED metrics of every unary RPC the pipeline serves (libs.rpc.pipeline).

Per call this costs two dict lookups, two integer updates for the in-flight count and
one record into a plain-Python histogram (libs.metrics.aggregate): about a microsecond.
The histogram's count per (service, method, status code) is the request and error
count, so there is no separate counter.
"""

from __future__ import annotations

import time
from typing import Any

from libs.metrics import aggregate, instruments, names

_NO_ATTRIBUTES: dict[str, Any] = {}
# What the pipeline calls a handler's own context.abort; the context knows the code.
ABORTED_BY_HANDLER = "ABORTED_BY_HANDLER"


def _aborted_code(context: Any) -> str:
    try:
        code = context.code()
    except Exception:  # an older grpc.aio context without code()
        return "UNKNOWN"
    return getattr(code, "name", None) or "UNKNOWN"


def _split(path: str) -> tuple[str, str]:
    service, _, method = path.lstrip("/").rpartition("/")
    return service, method


class RpcMetrics:
    def __init__(self) -> None:
        self._active: dict[str, int] = {}
        self._duration = aggregate.histogram(
            names.RPC_DURATION,
            "ms",
            "Server-side duration of unary RPCs, by service, method and status code",
            instruments.RPC_BUCKETS_MS,
        )
        instruments.observe(
            names.RPC_ACTIVE,
            "updown",
            "{request}",
            "Unary RPCs being served, by service and method",
            self._in_flight,
        )

    def _in_flight(self) -> list[tuple[float, dict[str, Any]]]:
        return [
            (count, {"rpc.service": service, "rpc.method": method})
            for path, count in list(self._active.items())
            for service, method in (_split(path),)
        ]

    def started(self, path: str) -> float:
        self._active[path] = self._active.get(path, 0) + 1
        return time.perf_counter()

    def finished(self, path: str, code: str, started: float, context: Any = None) -> None:
        elapsed_ms = (time.perf_counter() - started) * 1e3
        self._active[path] -= 1
        if code == ABORTED_BY_HANDLER:
            code = _aborted_code(context)
        series = self._duration.series((path, code), _NO_ATTRIBUTES)
        if series.attributes is _NO_ATTRIBUTES:
            service, method = _split(path)
            series.attributes = {
                "rpc.system": "grpc",
                "rpc.service": service,
                "rpc.method": method,
                "rpc.grpc.status_code": code,
            }
        self._duration.record(series, elapsed_ms)


RPC = RpcMetrics()
