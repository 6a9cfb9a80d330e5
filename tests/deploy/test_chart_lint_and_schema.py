"""helm lint --strict over every value set, and values.schema.json as a gate."""

from __future__ import annotations

from typing import Any

import helm_python as helm
import pytest

from tests.deploy.helm_render import CHART, VALUE_SET_NAMES, deep_merge, value_sets

WARNING = 2


@pytest.mark.parametrize("value_set", VALUE_SET_NAMES)
def test_helm_lint_strict_passes(value_set: str) -> None:
    report = helm.lint(CHART, value_sets()[value_set], strict=True, namespace="hisaab")
    problems = [m for m in report["messages"] if m["severity"] >= WARNING]
    assert report["errors"] == []
    assert problems == []


def _schema_error(values: dict[str, Any]) -> str:
    with helm.Chart.load(CHART) as chart, pytest.raises(helm.HelmValuesError) as caught:
        chart.validate_schema(values)
    return str(caught.value)


def test_schema_rejects_a_string_replica_count() -> None:
    assert "replicas" in _schema_error({"services": {"auth": {"replicas": "3"}}})


def test_schema_rejects_an_unknown_service() -> None:
    assert "setlement" in _schema_error({"services": {"setlement": {"enabled": True}}})


def test_schema_rejects_an_unknown_top_level_key() -> None:
    assert "replicaCount" in _schema_error({"replicaCount": 2})


def test_render_rejects_a_pdb_with_both_bounds() -> None:
    with helm.Chart.load(CHART) as chart, pytest.raises(helm.HelmRenderError, match="not both"):
        chart.render(values={"gateway": {"pdb": {"minAvailable": 1}}}, name="hisaab")


def test_schema_rejects_an_unknown_environment() -> None:
    assert "env" in _schema_error({"config": {"env": "production"}})


def test_render_refuses_values_the_schema_rejects() -> None:
    bad = deep_merge(value_sets()["prod"], {"services": {"group": {"autoscaling": {"minReplicas": "2"}}}})
    with helm.Chart.load(CHART) as chart, pytest.raises(helm.HelmError):
        chart.render(values=bad, name="hisaab", namespace="hisaab")


@pytest.mark.parametrize("value_set", VALUE_SET_NAMES)
def test_every_value_set_satisfies_the_schema(value_set: str) -> None:
    with helm.Chart.load(CHART) as chart:
        chart.validate_schema(value_sets()[value_set])
