"""Every rendered manifest is valid, strictly, for each Kubernetes version EKS supports (>= 1.31)."""

from __future__ import annotations

import json

import kubernetes_validate
import pytest

from tests.deploy.helm_render import VALUE_SET_NAMES, Manifest, render

# Amazon EKS standard and extended support at the time of writing; 1.31 is the
# oldest still in extended support. Add a version here when EKS adds it.
EKS_KUBERNETES_VERSIONS = ("1.31.0", "1.32.0", "1.33.0", "1.34.0", "1.35.0")


def _unique_manifests() -> list[Manifest]:
    """The union over all value sets, without duplicates (most objects repeat)."""
    seen: dict[str, Manifest] = {}
    for value_set in VALUE_SET_NAMES:
        for doc in render(value_set):
            seen.setdefault(json.dumps(doc, sort_keys=True), doc)
    return list(seen.values())


def test_the_validator_knows_every_eks_version() -> None:
    known = set(kubernetes_validate.utils.all_versions())
    assert set(EKS_KUBERNETES_VERSIONS) <= known


@pytest.mark.parametrize("kube_version", EKS_KUBERNETES_VERSIONS)
def test_manifests_validate_strictly(kube_version: str) -> None:
    failures: list[str] = []
    manifests = _unique_manifests()
    for doc in manifests:
        try:
            kubernetes_validate.validate(doc, kube_version, strict=True)
        except kubernetes_validate.ValidationError as error:
            failures.append(f"{doc['kind']}/{doc['metadata']['name']}: {error.message}")
    assert failures == []
    assert len(manifests) > 40


def test_the_validator_catches_an_unknown_field() -> None:
    # Guards the test above: strict mode must reject what the API server would.
    doc = next(d for d in render("prod") if d["kind"] == "Deployment")
    doc["spec"]["template"]["spec"]["containers"][0]["readinessProbes"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(doc, EKS_KUBERNETES_VERSIONS[0], strict=True)
