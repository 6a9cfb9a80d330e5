"""What the per-RPC metrics cost: ``python -m tools.metrics_overhead``.

Times the pipeline's two calls (libs.metrics.rpc: started + finished) with a Prometheus
and a periodic reader installed, as in a running service, and beside it one record into
the SDK's own histogram with the same four attributes (what libs.metrics.aggregate avoids).
"""

from __future__ import annotations

import io
import timeit

from opentelemetry.sdk.metrics.export import ConsoleMetricExporter, PeriodicExportingMetricReader

from libs.metrics import aggregate, export, instruments
from libs.metrics.rpc import RPC
from libs.settings import TelemetrySettings

PATH = "/hisaab.expense.v1.ExpenseService/CreateExpense"
ROUNDS = 200_000


def main() -> None:
    from opentelemetry.exporter.prometheus import PrometheusMetricReader

    class Prometheus(aggregate.Merging, PrometheusMetricReader):
        pass

    periodic = PeriodicExportingMetricReader(
        ConsoleMetricExporter(out=io.StringIO()), export_interval_millis=3_600_000
    )
    export.setup(
        "overhead",
        TelemetrySettings("", "none", 1.0, "none", 60, 0, "127.0.0.1"),
        extra_readers=[Prometheus(), periodic],
    )
    sdk_histogram = instruments.meter().create_histogram("overhead.sdk", unit="ms")
    attributes = {"rpc.system": "grpc", "rpc.service": "s", "rpc.method": "m", "rpc.grpc.status_code": "OK"}

    def kit() -> None:
        RPC.finished(PATH, "OK", RPC.started(PATH))

    def sdk() -> None:
        sdk_histogram.record(1.0, attributes)

    for name, call in (("kit RPC metrics (started + finished)", kit), ("SDK histogram record", sdk)):
        call()
        best = min(timeit.repeat(call, number=ROUNDS, repeat=3)) / ROUNDS
        print(f"{name}: {best * 1e6:.2f} µs per RPC")


if __name__ == "__main__":
    main()
