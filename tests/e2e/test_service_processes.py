"""The ledger services run as several processes (the chart runs two replicas of each):
Envoy spreads REST requests over all of them, and whichever process answers, a client
reads its own writes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support import Api, Session, paid_by_one
from tools.devstack.stack import Stack

pytestmark = pytest.mark.e2e


def _successes_by_port(stack: Stack, cluster: str) -> dict[int, int]:
    clusters = httpx.get(f"{stack.admin_url}/clusters", params={"format": "json"}, timeout=10).json()
    [status] = [c for c in clusters["cluster_statuses"] if c["name"] == cluster]
    counts: dict[int, int] = {}
    for host in status["host_statuses"]:
        port = host["address"]["socket_address"]["port_value"]
        counts[port] = next((int(s.get("value", 0)) for s in host["stats"] if s["name"] == "rq_success"), 0)
    return counts


def _expense(payer: str, amount: int, participants: list[str] | None = None) -> dict[str, Any]:
    return paid_by_one(payer, participants or [payer], amount, description="Auto", category="TRANSPORT")


def _group_with_friend(api: Api) -> tuple[Session, Session, str]:
    owner, friend = api.sign_in(), api.sign_in()
    made = api.call("POST", "/v1/groups", owner, json={"displayName": "Commute", "kind": "OTHER"})
    assert made.status_code == 200, made.text
    group = str(made.json()["name"])
    added = api.call("POST", f"/v1/{group}/members", owner, json={"phoneNumber": friend.phone})
    assert added.status_code == 200, added.text
    return owner, friend, group


def test_every_process_serves_rest_requests(api: Api, stack: Stack) -> None:
    for service in ("expense", "settlement"):
        assert len(stack.service_ports(service)) == 2
    owner, _, group = _group_with_friend(api)
    before = {s: _successes_by_port(stack, s) for s in ("expense", "settlement")}
    for amount in range(100, 110):
        made = api.call("POST", f"/v1/{group}/expenses", owner, json=_expense(owner.user_id, amount))
        assert made.is_success, made.text
        assert api.call("GET", f"/v1/{group}/balances", owner).is_success
    for service in ("expense", "settlement"):
        after = _successes_by_port(stack, service)
        served = {port for port in stack.service_ports(service) if after[port] > before[service].get(port, 0)}
        assert served == set(stack.service_ports(service)), (service, before[service], after)


def test_writes_are_read_back_from_any_process(api: Api) -> None:
    owner, friend, group = _group_with_friend(api)
    total = 0
    for amount in (1_000, 2_000, 3_000, 4_000):
        body = _expense(owner.user_id, amount, [owner.user_id, friend.user_id])
        made = api.call("POST", f"/v1/{group}/expenses", owner, json=body)
        assert made.status_code == 200, made.text
        total += amount
        # Several reads in a row reach every process; each must already see the write.
        for _ in range(3):
            listed = api.call("GET", f"/v1/{group}/expenses", friend).json()
            assert sum(int(e["total"]["amountMinor"]) for e in listed["expenses"]) == total
            members = api.call("GET", f"/v1/{group}/balances", friend).json()["members"]
            nets = {m["user"]: {n["currencyCode"]: int(n["amountMinor"]) for n in m["net"]} for m in members}
            assert nets[f"users/{friend.user_id}"] == {"INR": -total // 2}
