"""`make cost` sizes the nodes with the capacity `make bench` measured, once it exists."""

from __future__ import annotations

import json
from pathlib import Path

from infra import cost


def _capacity(tmp_path: Path, per_vcpu: float) -> Path:
    path = tmp_path / "capacity.json"
    path.write_text(json.dumps({"requests_per_second_per_vcpu": per_vcpu, "p99_limit_ms": 100}))
    return path


def test_the_measured_figure_replaces_the_assumed_one(tmp_path: Path) -> None:
    assumed = cost.load_usage(capacity=tmp_path / "absent.json")["requests_per_second_per_vcpu"]
    measured = cost.load_usage(capacity=_capacity(tmp_path, assumed + 12.5))
    assert measured["requests_per_second_per_vcpu"] == assumed + 12.5


def test_the_committed_figure_is_the_one_make_cost_uses() -> None:
    if not cost.CAPACITY_FILE.exists():
        assert cost.load_usage() == cost.load_usage(capacity=Path("/nonexistent"))
        return
    recorded = json.loads(cost.CAPACITY_FILE.read_text())["requests_per_second_per_vcpu"]
    assert recorded > 0
    assert cost.load_usage()["requests_per_second_per_vcpu"] == recorded


def test_nodes_follow_the_measured_capacity(tmp_path: Path) -> None:
    inv = cost.Inventory(
        regions=1, eks_clusters=1, node_types=("m7g.large",), node_minimum=2, spot=False, nat_gateways=1,
        nlbs=1, aurora_instances=1, aurora_min_acu=0.5, cache_node_type="", cache_nodes=0, web_acls=1,
        waf_rules=5, rest_apis=1, kms_keys=1, secrets=1, alarms=1, dashboards=0, athena=False,
        global_database=False,
    )  # fmt: skip
    prices = cost.load_prices()
    slow = cost.load_usage(capacity=_capacity(tmp_path, 10))
    fast = cost.load_usage(capacity=_capacity(tmp_path, 1000))
    mau = 1_000_000
    assert (
        cost.monthly_bill(inv, mau, prices, slow)["EC2 nodes (Graviton)"]
        > cost.monthly_bill(inv, mau, prices, fast)["EC2 nodes (Graviton)"]
    )
