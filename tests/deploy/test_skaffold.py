"""skaffold.yaml: one artifact per image, each buildable from files that exist, wired into Helm."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from libs.catalog import SERVICES
from tests.deploy.helm_render import CHART, ROOT

IMAGE_KEY = re.compile(r"\{\{\.IMAGE_(?:REPO|TAG)_([A-Za-z0-9_]+)\}\}")


def configs() -> dict[str, dict[str, Any]]:
    docs = list(yaml.safe_load_all((ROOT / "skaffold.yaml").read_text()))
    return {d["metadata"]["name"]: d for d in docs}


def main_config() -> dict[str, Any]:
    return configs()["hisaab"]


def artifacts() -> dict[str, dict[str, Any]]:
    return {a["image"]: a for a in main_config()["build"]["artifacts"]}


def releases() -> list[dict[str, Any]]:
    config = main_config()
    found = list(config["deploy"]["helm"]["releases"])
    for profile in config["profiles"]:
        found += profile.get("deploy", {}).get("helm", {}).get("releases", [])
    return found


def test_every_config_uses_a_v4_schema() -> None:
    for config in configs().values():
        assert config["apiVersion"].startswith("skaffold/v4")
        assert config["kind"] == "Config"


def test_one_artifact_per_service_plus_migrate_and_envoy() -> None:
    expected = {f"hisaab-{s.name}" for s in SERVICES} | {"hisaab-migrate", "hisaab-envoy"}
    assert set(artifacts()) == expected
    for spec in SERVICES:
        docker = artifacts()[f"hisaab-{spec.name}"]["docker"]
        assert docker["buildArgs"]["SERVICE"] == spec.name
        assert docker["target"] == "service"


@pytest.mark.parametrize("image", ["hisaab-auth", "hisaab-migrate", "hisaab-envoy"])
def test_artifact_dockerfile_and_target_exist(image: str) -> None:
    artifact = artifacts()[image]
    context = ROOT / artifact.get("context", ".")
    dockerfile = context / artifact["docker"].get("dockerfile", "Dockerfile")
    assert context.is_dir()
    assert dockerfile.is_file()
    stages = re.findall(r"(?im)^FROM\s+\S+\s+AS\s+(\S+)", dockerfile.read_text())
    assert artifact["docker"]["target"] in stages


def test_every_service_directory_the_images_copy_exists_or_is_planned() -> None:
    # The service stage copies services/<SERVICE>/; every service must have one.
    for spec in SERVICES:
        assert (ROOT / "services" / spec.name / "__main__.py").is_file(), spec.name


def test_every_release_sets_every_image_and_nothing_else() -> None:
    normalized = {image.replace("-", "_") for image in artifacts()}
    for release in releases():
        assert (ROOT / release["chartPath"]).resolve() == CHART
        templates = release["setValueTemplates"]
        used = {m for value in templates.values() for m in IMAGE_KEY.findall(str(value))}
        assert used == normalized
        for values_file in release.get("valuesFiles", []):
            assert (ROOT / values_file).is_file()


def test_profiles_are_dev_staging_prod_without_index_patches() -> None:
    profiles = {p["name"]: p for p in main_config()["profiles"]}
    assert set(profiles) == {"dev", "staging", "prod"}
    for profile in profiles.values():
        assert "patches" not in profile
    forwards = profiles["dev"]["portForward"]
    assert any(f["resourceName"] == "hisaab-gateway" and f["localPort"] == 8080 for f in forwards)


def test_dev_dependencies_deploy_only_with_the_dev_profile() -> None:
    deps = configs()["hisaab-dev-deps"]
    assert "deploy" not in deps
    assert "manifests" not in deps
    (dev,) = deps["profiles"]
    for pattern in dev["manifests"]["rawYaml"]:
        assert list(ROOT.glob(pattern)), pattern
    required = main_config()["requires"][0]
    assert required["activeProfiles"] == [{"name": "dev", "activatedBy": ["dev"]}]
