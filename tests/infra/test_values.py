"""The chart gets every AWS value it needs from the stacks' outputs, and renders with them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra import config, permissions, values
from libs.aws import Resources
from libs.catalog import SERVICES
from tests.deploy.helm_render import CHART, ENV_VALUES, deep_merge, load_values, of_kind, parse, render_chart
from tests.infra.conftest import CASES, Synthesized
from tools import infra as infra_cli

# Empty in the chart's defaults and rightly left empty in AWS, with the reason.
NOT_FROM_AWS = {
    "nameOverride": "release naming",
    "fullnameOverride": "release naming",
    "image.tag": "the release's commit, set by helm --set or skaffold",
    "config.aws.endpointUrl": "only for the AWS emulator",
    "roleArn": "IRSA only; Pod Identity binds roles by ServiceAccount name",
    "externalSecrets.cacheSecret": "phase 1 has no cache",
    "externalSecrets.cacheHost": "phase 1 has no cache",
}


def _fake_outputs(synth: Synthesized) -> dict[str, dict[str, str]]:
    """Every output the stacks declare, with a value of the right shape (what cdk deploy writes)."""
    fake = {}
    for name, template in synth.templates().items():
        fake[name] = {
            key: f"arn:aws:elasticloadbalancing:ap-south-1:123456789012:{key}"
            if key.endswith("Arn")
            else "10.99.0.0/16"
            if key.endswith("Cidr")
            else f"{key.lower()}-value"
            for key in template.get("Outputs", {})
        }
    return fake


def _generated(synth: Synthesized) -> dict[str, Any]:
    cfg = synth.deployment.config
    return values.chart_values(cfg, values.flatten(_fake_outputs(synth), cfg))


def _empty_leaves(node: Any, path: str = "") -> list[str]:
    if isinstance(node, dict):
        return [leaf for k, v in node.items() for leaf in _empty_leaves(v, f"{path}.{k}" if path else k)]
    return [path] if node == "" else []


def _get(node: Any, path: str) -> Any:
    for part in path.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


@pytest.mark.parametrize(("env", "phase"), CASES)
def test_every_value_the_chart_needs_comes_from_a_stack_output(
    synthesized: dict[tuple[str, int], Synthesized], env: str, phase: int
) -> None:
    synth = synthesized[(env, phase)]
    generated = _generated(synth)  # raises MissingOutput when a stack lacks one
    defaults = load_values(CHART / "values.yaml")
    merged = deep_merge(defaults, generated)
    missing = [
        path
        for path in _empty_leaves(defaults)
        if not _get(merged, path) and not any(path.endswith(key) for key in NOT_FROM_AWS)
    ]
    assert missing == []
    extra_env = generated["config"]["extraEnv"]
    assert all(extra_env.get(Resources.variable(name)) for name in Resources.__dataclass_fields__)
    assert generated["secrets"]["redis"]["enabled"] is (phase >= 2)
    assert bool(generated["externalSecrets"].get("cacheSecret")) is (phase >= 2)


def test_a_missing_output_is_an_error(synthesized: dict[tuple[str, int], Synthesized]) -> None:
    synth = synthesized[("prod", 1)]
    outputs = values.flatten(_fake_outputs(synth), synth.deployment.config)
    del outputs["UserPoolId"]
    with pytest.raises(values.MissingOutput):
        values.chart_values(synth.deployment.config, outputs)


@pytest.mark.parametrize(("env", "phase"), [("prod", 1), ("staging", 2)])
def test_the_chart_renders_with_the_generated_values(
    synthesized: dict[tuple[str, int], Synthesized], env: str, phase: int
) -> None:
    synth = synthesized[(env, phase)]
    chart_values = deep_merge(load_values(ENV_VALUES / f"{env}.yaml"), _generated(synth))
    docs = parse(render_chart(CHART, chart_values))
    binding = of_kind(docs, "TargetGroupBinding")["hisaab-gateway"]
    assert binding["spec"]["targetGroupARN"].startswith("arn:aws:elasticloadbalancing:")
    assert binding["spec"]["serviceRef"] == {"name": "hisaab-gateway", "port": 80}
    assert of_kind(docs, "Service")["hisaab-gateway"]["spec"]["type"] == "ClusterIP"
    secrets = of_kind(docs, "ExternalSecret")
    identities = {f"hisaab-identity-{s.name}" for s in SERVICES}
    assert set(secrets) == {"hisaab-database", "hisaab-env"} | identities | (
        {"hisaab-redis"} if phase >= 2 else set()
    )
    # Each service's client secret reaches its own pods only (the notification worker calls as notification).
    deployments = of_kind(docs, "Deployment")
    for name, identity in [*((s.name, s.name) for s in SERVICES), ("notification-worker", "notification")]:
        refs = {
            e["secretRef"]["name"]
            for e in deployments[f"hisaab-{name}"]["spec"]["template"]["spec"]["containers"][0]["envFrom"]
            if "secretRef" in e
        }
        assert refs & identities == {f"hisaab-identity-{identity}"}, name
    urls = secrets["hisaab-database"]["spec"]["target"]["template"]["data"]
    assert "@databasewriterhost-value:" in urls["writer-url"]
    assert "@databasereaderhost-value:" in urls["reader-url"]
    deployment = of_kind(docs, "Deployment")["hisaab-expense"]
    env_names = {e["name"] for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert ("REDIS_URL" in env_names) is (phase >= 2)
    assert "DATABASE_URL" in env_names
    # The Pod Identity associations name exactly the chart's ServiceAccounts.
    accounts = set(of_kind(docs, "ServiceAccount"))
    template = synth.templates()[f"Hisaab-{env}-Cluster"]
    associated = {
        r["Properties"]["ServiceAccount"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::EKS::PodIdentityAssociation" and r["Properties"]["Namespace"] == "hisaab"
    }
    assert associated == {permissions.service_account(w) for w in permissions.CALLS}
    assert associated == accounts - {"hisaab-gateway"}


def test_outputs_of_the_second_region_do_not_leak_into_the_primary_values() -> None:
    cfg = config.load("prod", 3)
    flat = values.flatten({"Hisaab-prod-Edge": {"VpcCidr": "a"}, "Hisaab-prod-Edge-2": {"VpcCidr": "b"}}, cfg)
    assert flat == {"VpcCidr": "a"}


def test_the_command_writes_a_values_file_helm_can_layer(
    synthesized: dict[tuple[str, int], Synthesized], tmp_path: Path
) -> None:
    outputs = tmp_path / "outputs-staging.json"
    outputs.write_text(json.dumps(_fake_outputs(synthesized[("staging", 1)])))
    target = tmp_path / "staging.aws.yaml"
    assert (
        infra_cli.main(
            ["values", "--env", "staging", "--phase", "1", "--outputs", str(outputs), "--out", str(target)]
        )
        == 0
    )
    text = target.read_text()
    assert text.startswith("# Generated by `python -m tools.infra values --env staging`")
    written = yaml.safe_load(text)
    assert written["config"]["auth"]["cognitoUserPoolId"] == "userpoolid-value"
    assert written["secrets"]["redis"]["enabled"] is False
    assert infra_cli.main(["values", "--env", "staging", "--outputs", str(tmp_path / "absent.json")]) == 2


def test_the_second_region_release_uses_its_own_edge_and_database_member(
    synthesized: dict[tuple[str, int], Synthesized],
) -> None:
    synth = synthesized[("prod", 3)]
    outputs = {
        stack: {key: f"{value}-{stack}" if not key.endswith("Cidr") else value for key, value in keys.items()}
        for stack, keys in _fake_outputs(synth).items()
    }
    cfg = synth.deployment.config
    first = values.chart_values(cfg, values.flatten(outputs, cfg))
    second = values.chart_values(cfg, values.flatten(outputs, cfg, second_region=True))
    assert first["gateway"]["targetGroupBinding"]["targetGroupArn"].endswith("Hisaab-prod-Edge")
    assert second["gateway"]["targetGroupBinding"]["targetGroupArn"].endswith("Hisaab-prod-Edge-2")
    assert second["externalSecrets"]["databaseWriterHost"].endswith("Hisaab-prod-SecondaryDatabase")
    assert second["externalSecrets"]["databaseReaderHost"].endswith("Hisaab-prod-SecondaryDatabase")
    # Cognito, the topic and the queues are the primary's in both releases.
    assert second["config"]["auth"] == first["config"]["auth"]
    assert second["config"]["extraEnv"] == first["config"]["extraEnv"]
