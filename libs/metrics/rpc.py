"""RED metrics of every unary RPC the pipeline serves (libs.rpc.pipeline).

Per call this costs one dict lookup for the cached attributes, two integer updates
for the in-flight count and one histogram record: the histogram's count per
(service, method, status code) is the request and error count, so no separate counter.
"""

from __future__ import annotations

import time
from typing import Any

from libs.metrics import instruments

_Key = tuple[str, str]
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
        self._attributes: dict[_Key, dict[str, Any]] = {}
        self._histogram: Any = None
        instruments.observe(
            instruments.RPC_ACTIVE,
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
        attributes = self._attributes.get((path, code))
        if attributes is None:
            service, method = _split(path)
            attributes = self._attributes[(path, code)] = {
                "rpc.system": "grpc",
                "rpc.service": service,
                "rpc.method": method,
                "rpc.grpc.status_code": code,
            }
        histogram = self._histogram
        if histogram is None:
            histogram = self._histogram = instruments.get().rpc_duration
        histogram.record(elapsed_ms, attributes)


RPC = RpcMetrics()
