"""What the chart must guarantee beyond schema validity."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from google.protobuf import descriptor_pb2

from tests.deploy.helm_render import (
    CHART,
    CHART_WORKERS,
    ROOT,
    VALUE_SET_NAMES,
    Manifest,
    component,
    containers,
    deep_merge,
    load_values,
    of_kind,
    parse,
    render,
    render_chart,
    value_sets,
)

WORKLOAD_KINDS = ("Deployment", "Job")
PER_SERVICE_KINDS = (
    "Deployment",
    "Service",
    "HorizontalPodAutoscaler",
    "PodDisruptionBudget",
    "ServiceAccount",
)


def contract_services() -> dict[str, str]:
    """Short name -> full proto service name, for every hisaab.<name>.v1 service in the descriptor set."""
    descriptors = descriptor_pb2.FileDescriptorSet()
    descriptors.ParseFromString((ROOT / "gen" / "hisaab.pb").read_bytes())
    found: dict[str, str] = {}
    for file in descriptors.file:
        parts = file.package.split(".")
        if len(parts) == 3 and parts[0] == "hisaab" and parts[2] == "v1":
            for service in file.service:
                found[parts[1]] = f"{file.package}.{service.name}"
    return found


def workloads(docs: list[Manifest]) -> list[Manifest]:
    return [d for d in docs if d["kind"] in WORKLOAD_KINDS]


def test_the_contract_has_services() -> None:
    assert {"auth", "group"} <= set(contract_services())


@pytest.mark.parametrize("value_set", ["defaults", "prod"])
def test_every_contract_service_has_its_objects(value_set: str) -> None:
    docs = render(value_set)
    for short, full in contract_services().items():
        name = f"hisaab-{short}"
        for kind in PER_SERVICE_KINDS:
            assert name in of_kind(docs, kind), f"{kind} {name} missing"
        deployment = of_kind(docs, "Deployment")[name]
        (_, container), *_ = containers(deployment)
        assert container["readinessProbe"]["grpc"]["service"] == full


@pytest.mark.parametrize("value_set", VALUE_SET_NAMES)
def test_grpc_probes_target_the_container_port(value_set: str) -> None:
    for deployment in of_kind(render(value_set), "Deployment").values():
        for _, container in containers(deployment):
            ports = {p["containerPort"] for p in container.get("ports", [])}
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                if "grpc" in container.get(probe, {}):
                    assert container[probe]["grpc"]["port"] in ports, (deployment["metadata"]["name"], probe)


@pytest.mark.parametrize("value_set", VALUE_SET_NAMES)
def test_no_container_runs_as_root_or_writes_its_root_fs(value_set: str) -> None:
    for workload in workloads(render(value_set)):
        for pod, container in containers(workload):
            merged = {**pod.get("securityContext", {}), **container.get("securityContext", {})}
            where = f"{workload['kind']}/{workload['metadata']['name']}/{container['name']}"
            assert merged.get("runAsNonRoot") is True, where
            assert merged.get("runAsUser", 0) != 0, where
            assert merged.get("readOnlyRootFilesystem") is True, where
            assert merged.get("allowPrivilegeEscalation") is False, where
            assert merged["capabilities"]["drop"] == ["ALL"], where
            assert merged["seccompProfile"]["type"] == "RuntimeDefault", where
            assert any(m["mountPath"] == "/tmp" for m in container["volumeMounts"]), where
            assert "limits" in container["resources"], where
            assert "requests" in container["resources"], where


@pytest.mark.parametrize("value_set", VALUE_SET_NAMES)
def test_pods_outlive_the_drain_window(value_set: str) -> None:
    docs = render(value_set)
    config = of_kind(docs, "ConfigMap")["hisaab-config"]["data"]
    grace = int(config["HISAAB_SHUTDOWN_DRAIN_SECONDS"]) + int(config["HISAAB_SHUTDOWN_GRACE_SECONDS"])
    for deployment in of_kind(docs, "Deployment").values():
        if component(deployment) == "gateway" or component(deployment) in CHART_WORKERS:
            continue  # workers take no traffic: nothing to drain (see test_workers_*)
        pod = deployment["spec"]["template"]["spec"]
        pre_stop = pod["containers"][0]["lifecycle"]["preStop"]["sleep"]["seconds"]
        assert pod["terminationGracePeriodSeconds"] > grace + pre_stop


@pytest.mark.parametrize("value_set", VALUE_SET_NAMES)
def test_replicas_are_left_to_the_hpa(value_set: str) -> None:
    docs = render(value_set)
    scaled = {h["spec"]["scaleTargetRef"]["name"] for h in of_kind(docs, "HorizontalPodAutoscaler").values()}
    for name, deployment in of_kind(docs, "Deployment").items():
        assert ("replicas" in deployment["spec"]) != (name in scaled), name
    for hpa in of_kind(docs, "HorizontalPodAutoscaler").values():
        assert {m["resource"]["name"] for m in hpa["spec"]["metrics"]} == {"cpu", "memory"}


def test_autoscaling_off_renders_no_hpa() -> None:
    assert of_kind(render("autoscaling-off"), "HorizontalPodAutoscaler") == {}


@pytest.mark.parametrize("value_set", VALUE_SET_NAMES)
def test_service_accounts_do_not_mount_api_tokens(value_set: str) -> None:
    docs = render(value_set)
    for account in of_kind(docs, "ServiceAccount").values():
        assert account["automountServiceAccountToken"] is False
    for workload in workloads(docs):
        assert workload["spec"]["template"]["spec"]["automountServiceAccountToken"] is False


def test_prod_service_accounts_use_pod_identity_not_irsa() -> None:
    # EKS Pod Identity binds each role to the ServiceAccount's name (infra/stacks/cluster.py);
    # the IRSA annotation appears only when a values file sets roleArn.
    accounts = of_kind(render("prod"), "ServiceAccount")
    for short in contract_services():
        annotations = accounts[f"hisaab-{short}"]["metadata"].get("annotations") or {}
        assert "eks.amazonaws.com/role-arn" not in annotations
    irsa = deep_merge(
        value_sets()["prod"],
        {"services": {"auth": {"serviceAccount": {"roleArn": "arn:aws:iam::123456789012:role/x"}}}},
    )
    rendered = of_kind(parse(render_chart(CHART, irsa)), "ServiceAccount")["hisaab-auth"]
    assert (
        rendered["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
        == "arn:aws:iam::123456789012:role/x"
    )


def test_migrations_run_as_an_ordered_pre_install_hook() -> None:
    docs = render("prod")
    job = of_kind(docs, "Job")["hisaab-migrations"]
    hooks = job["metadata"]["annotations"]
    assert set(hooks["helm.sh/hook"].split(",")) == {"pre-install", "pre-upgrade"}
    assert hooks["helm.sh/hook-delete-policy"] == "before-hook-creation"
    assert job["spec"]["ttlSecondsAfterFinished"] > 0
    pod = job["spec"]["template"]["spec"]
    for kind in ("ServiceAccount", "ConfigMap"):
        helper = of_kind(docs, kind)["hisaab-migrations"]["metadata"]["annotations"]
        assert helper["helm.sh/hook"] == hooks["helm.sh/hook"]
        assert int(helper["helm.sh/hook-weight"]) < int(hooks["helm.sh/hook-weight"])
    assert pod["serviceAccountName"] == "hisaab-migrations"
    assert pod["containers"][0]["envFrom"][0]["configMapRef"]["name"] == "hisaab-migrations"


@pytest.mark.parametrize("value_set", VALUE_SET_NAMES)
def test_the_chart_holds_no_secrets(value_set: str) -> None:
    docs = render(value_set)
    assert of_kind(docs, "Secret") == {}
    for workload in workloads(docs):
        for _, container in containers(workload):
            env = {e["name"]: e for e in container.get("env", [])}
            if "DATABASE_URL" in env:
                assert "secretKeyRef" in env["DATABASE_URL"]["valueFrom"]
                assert "value" not in env["DATABASE_URL"]


def _allowed_sources(policy: Manifest) -> set[str]:
    sources: set[str] = set()
    for rule in policy["spec"].get("ingress", []):
        assert rule["from"], "an empty `from` would admit every pod"
        for peer in rule["from"]:
            if "podSelector" in peer:
                sources.add(peer["podSelector"]["matchLabels"]["app.kubernetes.io/component"])
    return sources


# Calls to REST-bound methods that one service makes for its user (the contract names
# the callers of internal methods only).
PEER_CALLS_FOR_USERS = {("expense", "group"), ("expense", "settlement"), ("settlement", "group")}


def _acting_as(service: str) -> set[str]:
    """The components whose calls carry ``service``'s identity: itself and its workers."""
    from libs.catalog import WORKERS

    return {service} | {w.name for w in WORKERS if w.module.startswith(f"services.{service}.")}


def test_network_policies_admit_every_caller_the_contract_names() -> None:
    """A call the contract allows must not be dropped by the cluster's network policy."""
    import importlib

    from libs.rpc.descriptors import method_rules

    policies = of_kind(render("prod"), "NetworkPolicy")
    for short, full in contract_services().items():
        importlib.import_module(f"hisaab.{short}.v1.{short}_pb2")  # puts the service in the pool
        allowed = _allowed_sources(policies[f"hisaab-{short}"])
        needed = {c for r in method_rules(full).values() if r.internal for c in r.callers or ()}
        needed |= {caller for caller, callee in PEER_CALLS_FOR_USERS if callee == short}
        for caller in needed:
            missing = _acting_as(caller) - allowed
            assert not missing, f"{short} does not admit {sorted(missing)}, acting as {caller}"


def test_network_policies_admit_only_callers_and_the_gateway() -> None:
    policies = of_kind(render("prod"), "NetworkPolicy")
    assert "group" in _allowed_sources(policies["hisaab-auth"])
    assert {"expense", "settlement", "notification"} <= _allowed_sources(policies["hisaab-group"])
    assert _allowed_sources(policies["hisaab-expense"]) == {"gateway", "notification", "notification-worker"}
    assert "expense" not in _allowed_sources(policies["hisaab-notification"])
    gateway_rules = policies["hisaab-gateway"]["spec"]["ingress"]
    assert [p["port"] for r in gateway_rules for p in r["ports"]] == [8080]


def test_network_policies_can_be_turned_off() -> None:
    assert of_kind(render("network-policies-off"), "NetworkPolicy") == {}


def test_gateway_is_an_internal_nlb_target_for_the_vpc_link() -> None:
    service = of_kind(render("prod"), "Service")["hisaab-gateway"]
    annotations = service["metadata"]["annotations"]
    assert service["spec"]["type"] == "LoadBalancer"
    assert annotations["service.beta.kubernetes.io/aws-load-balancer-type"] == "external"
    assert annotations["service.beta.kubernetes.io/aws-load-balancer-nlb-target-type"] == "ip"
    assert annotations["service.beta.kubernetes.io/aws-load-balancer-scheme"] == "internal"


def test_gateway_configmap_fits_the_kubernetes_limit() -> None:
    config_map = of_kind(render("prod"), "ConfigMap")["hisaab-gateway"]
    size = sum(len(v) for v in config_map["data"].values()) + sum(
        len(v) for v in config_map["binaryData"].values()
    )
    assert size < 1024 * 1024


def _gateway_checksum(chart_dir: Path) -> str:
    docs = parse(render_chart(chart_dir, value_sets()["prod"]))
    annotations = of_kind(docs, "Deployment")["hisaab-gateway"]["spec"]["template"]["metadata"]["annotations"]
    return str(annotations["checksum/envoy"])


def test_gateway_pods_roll_when_the_descriptor_changes(tmp_path: Path) -> None:
    copy = tmp_path / "hisaab"
    shutil.copytree(CHART, copy)
    before = _gateway_checksum(copy)
    descriptor = copy / "files" / "descriptor.pb"
    descriptor.write_bytes(descriptor.read_bytes() + b"\n")
    assert _gateway_checksum(copy) != before


def test_services_reach_peers_through_their_service_names() -> None:
    config = of_kind(render("prod"), "ConfigMap")["hisaab-config"]["data"]
    services = of_kind(render("prod"), "Service")
    for short in contract_services():
        host, port = config[f"HISAAB_{short.upper()}_ADDR"].split(":")
        assert services[host]["spec"]["ports"][0]["port"] == int(port)


def test_disabled_pieces_render_nothing() -> None:
    docs = render("auth-only")
    assert {component(d) for d in docs} == {"auth", "config"}


def test_workers_are_the_catalog_workers_without_services() -> None:
    from libs.catalog import WORKERS

    docs = render("prod")
    deployments = of_kind(docs, "Deployment")
    modules = {w.name: w.module for w in WORKERS}
    for name in CHART_WORKERS:
        deployment = deployments[f"hisaab-{name}"]
        (_, container), *_ = containers(deployment)
        assert container["command"] == ["python", "-m", modules[name]]
        assert "ports" not in container and "readinessProbe" not in container
        assert container["livenessProbe"]["exec"]["command"][:3] == ["python", "-m", "libs.jobs.runtime"]
        assert f"hisaab-{name}" not in of_kind(docs, "Service")
        assert f"hisaab-{name}" in of_kind(docs, "ServiceAccount")
    # EventBridge Scheduler replaces the local scheduler in AWS.
    assert "hisaab-scheduler" not in deployments


@pytest.mark.parametrize("value_set", VALUE_SET_NAMES)
def test_workers_finish_their_batch_before_sigkill(value_set: str) -> None:
    deployments = of_kind(render(value_set), "Deployment")
    for name in CHART_WORKERS:
        deployment = deployments.get(f"hisaab-{name}")
        if deployment is not None:
            # Longer than a 5 s long poll plus one relay batch.
            assert deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] >= 20


def test_worker_modules_exist() -> None:
    import importlib.util

    from libs.catalog import WORKERS

    for worker in WORKERS:
        assert importlib.util.find_spec(worker.module) is not None, worker.module


def _gateway_tracing(value_set: str) -> tuple[Manifest, Manifest, dict[str, Manifest]]:
    """Envoy's tracer block, the gateway pod spec and its init containers by name."""
    docs = render(value_set)
    envoy = yaml.safe_load(of_kind(docs, "ConfigMap")["hisaab-gateway"]["data"]["envoy.yaml"])
    listener = envoy["static_resources"]["listeners"][0]
    manager = listener["filter_chains"][0]["filters"][0]["typed_config"]
    xray = manager["tracing"]["provider"]["typed_config"]
    xray["manifest"] = json.loads(xray["sampling_rule_manifest"]["inline_string"])
    pod = of_kind(docs, "Deployment")["hisaab-gateway"]["spec"]["template"]["spec"]
    return xray, pod, {c["name"]: c for c in pod.get("initContainers", [])}


def test_gateway_segments_reach_the_cluster_collector_through_a_sidecar() -> None:
    values = value_sets()["prod"]
    xray, pod, init = _gateway_tracing("prod")
    relay = init["xray-relay"]
    # A native sidecar: started before Envoy and kept running beside it.
    assert relay["restartPolicy"] == "Always"
    daemon = xray["daemon_endpoint"]
    assert (daemon["address"], daemon["protocol"]) == ("127.0.0.1", "UDP")

    config_map = of_kind(render("prod"), "ConfigMap")["hisaab-gateway"]
    collector = yaml.safe_load(config_map["data"]["xray-relay.yaml"])
    receiver = collector["receivers"]["awsxray"]
    assert receiver["endpoint"] == f"127.0.0.1:{daemon['port_value']}"
    assert receiver["proxy_server"]["endpoint"].startswith("127.0.0.1:")
    assert collector["exporters"]["otlp"]["endpoint"] == values["config"]["otel"]["endpoint"]
    assert collector["service"]["pipelines"]["traces"]["exporters"] == ["otlp"]
    mount = {m["name"]: m["mountPath"] for m in relay["volumeMounts"]}["xray-relay"]
    volume = {v["name"]: v for v in pod["volumes"]}["xray-relay"]["configMap"]
    assert volume["name"] == "hisaab-gateway"
    assert [f"{mount}/{i['path']}" for i in volume["items"] if i["key"] == "xray-relay.yaml"] == [
        a.split("=", 1)[1] for a in relay["args"] if a.startswith("--config=")
    ]
    assert xray["manifest"]["default"]["fixed_target"] == 1
    expected_rate = deep_merge(load_values(CHART / "values.yaml"), values)["gateway"]["tracing"]["sampleRate"]
    assert xray["manifest"]["default"]["rate"] == expected_rate


def test_gateway_without_a_collector_starts_no_trace_itself() -> None:
    xray, _, init = _gateway_tracing("dev")
    assert "xray-relay" not in init
    assert xray["manifest"]["default"] == {"fixed_target": 0, "rate": 0}


def test_gateway_tracing_without_a_collector_endpoint_is_refused() -> None:
    values = deep_merge(value_sets()["prod"], {"config": {"otel": {"endpoint": ""}}})
    with pytest.raises(Exception, match=r"config\.otel\.endpoint"):
        render_chart(CHART, values)
