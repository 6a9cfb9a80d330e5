"""The collector keeps every metric the kit exports, with the dimensions the alarms use,
and takes Envoy's X-Ray segments on the port the gateway config sends them to."""

from __future__ import annotations

import re
from typing import Any

import yaml

from libs.metrics import names
from tests.deploy.helm_render import ROOT
from tests.deploy.test_cluster_manifests import documents

COLLECTOR = ROOT / "k8s" / "observability" / "adot-collector.yaml"


def _collector() -> dict[str, Any]:
    (config_map,) = [
        d
        for d in documents(ROOT / "k8s" / "observability" / "adot-collector.yaml")
        if d["kind"] == "ConfigMap"
    ]
    return yaml.safe_load(config_map["data"]["collector.yaml"])  # type: ignore[no-any-return]


def _declaration(metric: str) -> dict[str, Any]:
    matches = [
        d
        for d in _collector()["exporters"]["awsemf"]["metric_declarations"]
        if any(re.search(pattern, metric) for pattern in d["metric_name_selectors"])
    ]
    assert len(matches) == 1, metric
    return dict(matches[0])


def test_every_exported_metric_is_kept_with_the_service_as_a_dimension() -> None:
    for metric in names.EXPORTED:
        assert all(names.SERVICE in dims for dims in _declaration(metric)["dimensions"]), metric


def test_the_alarmed_series_have_their_dimensions() -> None:
    emf = _collector()["exporters"]["awsemf"]
    assert emf["namespace"] == names.NAMESPACE
    assert [names.SERVICE] in _declaration(names.OUTBOX_OLDEST_AGE)["dimensions"]
    assert [names.SERVICE, names.QUEUE] in _declaration(names.QUEUE_LAG)["dimensions"]


def test_envoy_segments_reach_the_traces_pipeline() -> None:
    from tools.gateway.envoy_config import tracing

    collector = _collector()
    assert "awsxray" in collector["service"]["pipelines"]["traces"]["receivers"]
    port = int(collector["receivers"]["awsxray"]["endpoint"].rsplit(":", 1)[1])
    daemon = tracing(("adot-collector.observability", port), 0.05)["provider"]["typed_config"][
        "daemon_endpoint"
    ]
    assert daemon["protocol"] == "UDP" and daemon["port_value"] == port
    service = next(d for d in documents(COLLECTOR) if d["kind"] == "Service")
    assert {"name": "xray", "port": port, "targetPort": "xray", "protocol": "UDP"} in service["spec"]["ports"]
