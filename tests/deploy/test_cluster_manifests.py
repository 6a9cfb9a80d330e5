"""The cluster pieces under k8s/ are valid Kubernetes objects; the per-env values fit the chart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.deploy.helm_render import ROOT
from tests.deploy.test_manifests_valid import EKS_KUBERNETES_VERSIONS

MANIFESTS = sorted(p for p in (ROOT / "k8s").rglob("*.yaml") if "values" not in p.parts)


def documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


# Custom resources of the operators the AWS setup installs (docs/deploy.md): the
# validator has no schema for them, so their shape is checked by hand below.
OPERATOR_KINDS = {("external-secrets.io/v1", "ClusterSecretStore")}


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_cluster_manifest_is_valid(path: Path) -> None:
    for doc in documents(path):
        if (doc["apiVersion"], doc["kind"]) in OPERATOR_KINDS:
            continue
        for version in (EKS_KUBERNETES_VERSIONS[0], EKS_KUBERNETES_VERSIONS[-1]):
            kubernetes_validate.validate(doc, version, strict=True)


def test_the_secret_store_the_chart_names_reads_secrets_manager() -> None:
    (store,) = documents(ROOT / "k8s" / "platform" / "secret-store.yaml")
    chart = yaml.safe_load((ROOT / "charts" / "hisaab" / "values.yaml").read_text())
    assert store["metadata"]["name"] == chart["externalSecrets"]["storeName"]
    assert store["spec"]["provider"]["aws"]["service"] == "SecretsManager"


def test_dev_manifests_cover_what_the_dev_values_point_at() -> None:
    dev = [d for p in (ROOT / "k8s" / "dev").glob("*.yaml") for d in documents(p)]
    names = {(d["kind"], d["metadata"]["name"]) for d in dev}
    values = yaml.safe_load((ROOT / "k8s" / "values" / "dev.yaml").read_text())
    assert ("Secret", values["secrets"]["database"]["name"]) in names
    assert ("Secret", values["secrets"]["redis"]["name"]) in names
    emulator_host = values["config"]["aws"]["endpointUrl"].split("//")[1].split(":")[0]
    assert ("Service", emulator_host) in names


def test_adot_collector_receives_otlp_and_exports_to_xray() -> None:
    (config_map,) = [
        d
        for d in documents(ROOT / "k8s" / "observability" / "adot-collector.yaml")
        if d["kind"] == "ConfigMap"
    ]
    collector = yaml.safe_load(config_map["data"]["collector.yaml"])
    assert set(collector["receivers"]["otlp"]["protocols"]) == {"grpc", "http"}
    assert collector["service"]["pipelines"]["traces"]["exporters"] == ["awsxray"]
    assert collector["service"]["pipelines"]["metrics"]["exporters"] == ["awsemf"]
    # The log group the CDK app creates with its retention, and the one its Pod Identity role may write.
    assert collector["exporters"]["awsemf"]["log_group_name"] == "/hisaab/${env:HISAAB_ENV}/metrics"
