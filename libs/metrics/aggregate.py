"""Histograms and counters kept in plain Python for the request path, exported with the rest.

The SDK's synchronous instruments validate and hash the attributes of every
measurement, once per reader: tens of microseconds per RPC, several times per request.
Here a record is a dict lookup, a bisect and three additions; the work of turning the
numbers into OpenTelemetry data happens at export (``merge``), once a minute in AWS or
at each scrape of the Prometheus endpoint. Counters are read the same way, through
observable instruments (``instruments.observe``).

A process is one asyncio thread; the exporter reads from its own thread, and a read
that interleaves with a record is at worst one request behind.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Hashable, Sequence
from typing import Any

from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Histogram,
    HistogramDataPoint,
    Metric,
    MetricsData,
    ResourceMetrics,
    ScopeMetrics,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from libs.metrics import instruments

_SCOPE = InstrumentationScope("hisaab.aggregate")


class _Series:
    __slots__ = ("attributes", "count", "counts", "high", "low", "total")

    def __init__(self, attributes: dict[str, Any], buckets: int):
        self.attributes = attributes
        self.counts = [0] * buckets
        self.count = 0
        self.total = 0.0
        self.low = float("inf")
        self.high = float("-inf")


class FastHistogram:
    """A cumulative explicit-bucket histogram, one series per key (with its attributes)."""

    def __init__(self, name: str, unit: str, description: str, bounds: Sequence[float]):
        self.name = name
        self.unit = unit
        self.description = description
        self.bounds = tuple(float(b) for b in bounds)
        self.started_ns = time.time_ns()
        self._series: dict[Hashable, _Series] = {}

    def series(self, key: Hashable, attributes: dict[str, Any]) -> _Series:
        found = self._series.get(key)
        if found is None:
            found = self._series[key] = _Series(attributes, len(self.bounds) + 1)
        return found

    def record(self, series: _Series, value: float) -> None:
        # OpenTelemetry's buckets are (previous bound, bound]: bisect_left puts a value equal
        # to a bound in that bound's bucket.
        series.counts[bisect_left(self.bounds, value)] += 1
        series.count += 1
        series.total += value
        if value < series.low:
            series.low = value
        if value > series.high:
            series.high = value

    def metric(self) -> Metric | None:
        now = time.time_ns()
        points = [
            HistogramDataPoint(
                attributes=s.attributes,
                start_time_unix_nano=self.started_ns,
                time_unix_nano=now,
                count=s.count,
                sum=s.total,
                bucket_counts=list(s.counts),
                explicit_bounds=list(self.bounds),
                min=s.low,
                max=s.high,
            )
            for s in list(self._series.values())
            if s.count
        ]
        if not points:
            return None
        return Metric(
            name=self.name,
            description=self.description,
            unit=self.unit,
            data=Histogram(data_points=points, aggregation_temporality=AggregationTemporality.CUMULATIVE),
        )


_histograms: list[FastHistogram] = []


class FastCounter:
    """A monotonic count per tuple of attribute values, exported as an observable counter."""

    def __init__(self, name: str, unit: str, description: str, labels: Sequence[str]):
        self._labels = tuple(labels)
        self._counts: dict[tuple[str, ...], int] = {}
        instruments.observe(name, "counter", unit, description, self._read)

    def _read(self) -> list[tuple[float, dict[str, Any]]]:
        return [(n, dict(zip(self._labels, key, strict=True))) for key, n in list(self._counts.items())]

    def add(self, key: tuple[str, ...], amount: int = 1) -> None:
        self._counts[key] = self._counts.get(key, 0) + amount


def histogram(name: str, unit: str, description: str, bounds: Sequence[float]) -> FastHistogram:
    made = FastHistogram(name, unit, description, bounds)
    _histograms.append(made)
    return made


def merge(data: MetricsData, resource: Resource) -> MetricsData:
    """``data`` (what the SDK collected) with the fast histograms added, for one reader."""
    metrics = [m for m in (h.metric() for h in _histograms) if m is not None]
    if not metrics:
        return data
    extra = ScopeMetrics(scope=_SCOPE, metrics=metrics, schema_url="")
    if not data.resource_metrics:
        return MetricsData(
            resource_metrics=[ResourceMetrics(resource=resource, scope_metrics=[extra], schema_url="")]
        )
    first, *rest = data.resource_metrics
    merged = ResourceMetrics(
        resource=first.resource, scope_metrics=[*first.scope_metrics, extra], schema_url=first.schema_url
    )
    return MetricsData(resource_metrics=[merged, *rest])


class Merging:
    """Mixed into a MetricReader (before it): every collection carries the fast histograms."""

    resource: Resource = Resource.get_empty()

    def _receive_metrics(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> None:
        merged = merge(metrics_data, Merging.resource) if metrics_data is not None else metrics_data
        super()._receive_metrics(merged, timeout_millis, **kwargs)  # type: ignore[misc]
