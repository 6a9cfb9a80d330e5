"""Renders the chart with real Helm (helm_python) for the deployment tests.

Each named value set is rendered once per test session and cached; documents
come back parsed, keyed by nothing but their own kind and name.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import helm_python as helm
import yaml

from libs.catalog import SERVICES, WORKERS

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "hisaab"
ENV_VALUES = ROOT / "k8s" / "values"
RELEASE = "hisaab"
NAMESPACE = "hisaab"

Manifest = dict[str, Any]


def load_values(path: Path) -> dict[str, Any]:
    return helm.values_from_yaml(path.read_text())


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Helm's values-file layering: maps merge key by key, everything else is replaced."""
    merged = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


# The workers that run in Kubernetes (the local scheduler is EventBridge Scheduler in AWS).
CHART_WORKERS = tuple(w.name for w in WORKERS if not w.local_only)


def _every_workload(enabled: bool) -> dict[str, Any]:
    return {
        "services": {s.name: {"autoscaling": {"enabled": enabled}} for s in SERVICES},
        "workers": {w: {"autoscaling": {"enabled": enabled}} for w in CHART_WORKERS},
        "gateway": {"autoscaling": {"enabled": enabled}},
    }


def value_sets() -> dict[str, dict[str, Any]]:
    """The value sets every structural test runs against."""
    dev = load_values(ENV_VALUES / "dev.yaml")
    prod = load_values(ENV_VALUES / "prod.yaml")
    return {
        "defaults": {},
        "dev": dev,
        "staging": load_values(ENV_VALUES / "staging.yaml"),
        "prod": prod,
        "autoscaling-off": deep_merge(prod, _every_workload(False)),
        "network-policies-off": deep_merge(prod, {"networkPolicy": {"enabled": False}}),
        "auth-only": {
            "services": {s.name: {"enabled": s.name == "auth"} for s in SERVICES},
            "workers": {w: {"enabled": False} for w in CHART_WORKERS},
            "gateway": {"enabled": False},
            "migrations": {"enabled": False},
        },
    }


VALUE_SET_NAMES = tuple(value_sets())


def render_chart(chart_dir: Path, values: Mapping[str, Any]) -> dict[str, str]:
    with helm.Chart.load(chart_dir) as chart:
        return chart.render(values=dict(values), name=RELEASE, namespace=NAMESPACE, is_install=True)


def parse(rendered: Mapping[str, str]) -> list[Manifest]:
    docs: list[Manifest] = []
    for path, text in sorted(rendered.items()):
        if not path.endswith((".yaml", ".yml")):
            continue
        docs.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return docs


@functools.cache
def _render_named(name: str) -> tuple[Manifest, ...]:
    return tuple(parse(render_chart(CHART, value_sets()[name])))


def render(name: str) -> list[Manifest]:
    """Parsed manifests of one named value set (a fresh copy each call)."""
    return copy.deepcopy(list(_render_named(name)))


def of_kind(docs: list[Manifest], kind: str) -> dict[str, Manifest]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def component(doc: Manifest) -> str:
    return str(doc["metadata"]["labels"]["app.kubernetes.io/component"])


def containers(doc: Manifest) -> Iterator[tuple[Manifest, Manifest]]:
    """(pod spec, container) for every container of a workload."""
    pod = doc["spec"]["template"]["spec"]
    for container in pod.get("initContainers", []) + pod["containers"]:
        yield pod, container
