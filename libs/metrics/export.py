"""Where metrics go: OTLP to the collector (CloudWatch EMF in AWS, see
k8s/observability/adot-collector.yaml) and a Prometheus text endpoint for people and
tests (``GET http://<host>:<metrics port>/metrics``)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from opentelemetry import metrics
from opentelemetry.sdk.metrics import AlwaysOffExemplarFilter, MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource

from libs.metrics import aggregate, instruments
from libs.settings import TelemetrySettings

log = logging.getLogger("hisaab.metrics")

_provider: MeterProvider | None = None


def resource(process: str) -> Resource:
    return Resource.create({"service.name": f"hisaab-{process}", "service.namespace": "hisaab"})


def setup(
    process: str, settings: TelemetrySettings, *, extra_readers: Sequence[MetricReader] = ()
) -> MeterProvider:
    """Install the global meter provider once (later calls return the first)."""
    global _provider
    if _provider is not None:
        return _provider
    readers: list[MetricReader] = list(extra_readers)
    if settings.metrics_exporter == "otlp" and settings.otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter

        class Periodic(aggregate.Merging, PeriodicExportingMetricReader):
            pass

        readers.append(
            Periodic(
                OTLPMetricExporter(endpoint=settings.otlp_endpoint, insecure=True),
                export_interval_millis=settings.metrics_interval_seconds * 1000,
            )
        )
    if settings.metrics_port:
        readers.append(_prometheus(settings.metrics_port, settings.metrics_address))
    aggregate.Merging.resource = resource(process)
    _provider = MeterProvider(
        metric_readers=readers,
        resource=aggregate.Merging.resource,
        # Exemplars would cost a span lookup on every record; traces are found by time instead.
        exemplar_filter=AlwaysOffExemplarFilter(),
    )
    metrics.set_meter_provider(_provider)
    instruments.reset_synchronous()
    return _provider


def _prometheus(port: int, address: str) -> MetricReader:
    from opentelemetry.exporter.prometheus import PrometheusMetricReader
    from prometheus_client import start_http_server

    class Prometheus(aggregate.Merging, PrometheusMetricReader):
        pass

    reader = Prometheus()
    # A thread of its own: a scrape never waits for the event loop.
    start_http_server(port, addr=address)
    log.info("metrics endpoint", extra={"url": f"http://{address}:{port}/metrics"})
    return reader


def shutdown() -> None:
    """Export what is left (a worker or server that stops)."""
    if _provider is not None:
        _provider.shutdown(timeout_millis=2000)
