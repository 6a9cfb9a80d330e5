"""The cost model prices what the stacks create and the traffic the usage file expects."""

from __future__ import annotations

import datetime

import pytest

from infra import cost, limits
from infra.stacks.edge import MANAGED_RULE_GROUPS
from tests.infra.conftest import Synthesized

Synth = dict[tuple[str, int], Synthesized]
PRICES, USAGE = cost.load_prices(), cost.load_usage()


def _inventory(synthesized: Synth, env: str, phase: int) -> cost.Inventory:
    synth = synthesized[(env, phase)]
    regions = len({s.region for s in synth.deployment.stacks})
    return cost.inventory(synth.templates().values(), regions)


def test_the_inventory_counts_what_each_phase_creates(synthesized: Synth) -> None:
    one, two, three = (_inventory(synthesized, "prod", phase) for phase in (1, 2, 3))
    assert (one.cache_nodes, two.cache_nodes) == (0, 2)
    assert (one.aurora_instances, two.aurora_instances, three.aurora_instances) == (1, 3, 4)
    assert (one.eks_clusters, three.eks_clusters) == (1, 2)
    assert one.nat_gateways == 3 and three.nat_gateways == 6
    # The managed rule groups, then per-IP rates: one per sign-in method, /v1/auth:* and everything.
    waf_rules = len(MANAGED_RULE_GROUPS) + len(limits.WAF_PER_IP_METHOD) + 2
    assert (
        one.waf_rules == waf_rules == 7 and not one.global_database and three.global_database and three.athena
    )
    assert _inventory(synthesized, "dev", 1).nat_gateways == 1
    assert _inventory(synthesized, "dev", 1).spot and not one.spot


def test_fixed_lines_follow_the_inventory(synthesized: Synth) -> None:
    inv = _inventory(synthesized, "prod", 1)
    bill = cost.monthly_bill(inv, 10_000, PRICES, USAGE)
    hours = PRICES["hours_per_month"]
    assert bill["EKS control plane"] == round(0.10 * hours, 2)
    assert bill["Aurora capacity (ACU)"] == round(0.5 * hours * PRICES["prices"]["aurora_acu_hour"], 2)
    assert bill["Cognito (Essentials)"] == 0  # the first 10,000 MAU are free
    assert "ElastiCache (Valkey)" not in bill


@pytest.mark.parametrize("phase", [1, 2, 3])
def test_the_bill_grows_with_users_but_not_in_proportion(synthesized: Synth, phase: int) -> None:
    inv = _inventory(synthesized, "prod", phase)
    totals = [sum(cost.monthly_bill(inv, mau, PRICES, USAGE).values()) for mau in cost.SIZES]
    assert totals[0] < totals[1] < totals[2]
    per_user = [t / mau for t, mau in zip(totals, cost.SIZES, strict=True)]
    assert per_user[0] > per_user[1] > per_user[2]


def test_each_phase_costs_more_than_the_one_before_at_the_same_size(synthesized: Synth) -> None:
    totals = [
        sum(cost.monthly_bill(_inventory(synthesized, "prod", phase), 100_000, PRICES, USAGE).values())
        for phase in (1, 2, 3)
    ]
    assert totals[0] < totals[1] < totals[2]


def test_prices_say_where_and_when() -> None:
    assert PRICES["region"] == "ap-south-1"
    datetime.date.fromisoformat(PRICES["as_of"])
    assert all(isinstance(v, (int, float, dict)) for v in PRICES["prices"].values())
