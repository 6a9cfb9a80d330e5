"""Many simultaneous retries of one create (same request_id) make exactly one resource.

Groups, expenses and settlements claim the key with their first writes (one round trip
fewer): the retries that lose roll their writes back and answer with the stored result.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.support import Api, Session, paid_by_one

pytestmark = pytest.mark.e2e


def test_concurrent_creates_with_one_request_id(api: Api) -> None:
    user = api.sign_in()
    rid = str(uuid.uuid4())
    body = {"displayName": "Ladakh", "kind": "TRIP"}

    def create(_: int) -> tuple[int, str]:
        with httpx.Client(base_url=api.stack.rest_url, timeout=30) as client:
            resp = client.post(f"/v1/groups?requestId={rid}", json=body, headers=user.headers)
            return resp.status_code, resp.json().get("name", resp.text)

    with ThreadPoolExecutor(max_workers=32) as pool:
        results = list(pool.map(create, range(64)))
    statuses = {status for status, _ in results}
    names = {name for _, name in results}
    assert statuses == {200}, results[:3]
    assert len(names) == 1
    listed = api.call("GET", "/v1/groups", user).json()["groups"]
    assert [g["name"] for g in listed] == list(names)


def _together(api: Api, user: Session, path: str, body: Mapping[str, object], n: int = 24) -> set[str]:
    rid = str(uuid.uuid4())

    def create(_: int) -> tuple[int, str]:
        with httpx.Client(base_url=api.stack.rest_url, timeout=30) as client:
            resp = client.post(f"{path}?requestId={rid}", json=body, headers=user.headers)
            return resp.status_code, resp.json().get("name", resp.text)

    with ThreadPoolExecutor(max_workers=12) as pool:
        results = list(pool.map(create, range(n)))
    assert {status for status, _ in results} == {200}, results[:3]
    return {name for _, name in results}


def test_concurrent_expense_and_settlement_retries_move_money_once(api: Api) -> None:
    asha, ravi = api.sign_in(), api.sign_in()
    group = api.call("POST", "/v1/groups", asha, json={"displayName": "Spiti", "kind": "TRIP"}).json()["name"]
    added = api.call("POST", f"/v1/{group}/members", asha, json={"user": f"users/{ravi.user_id}"})
    assert added.status_code == 200, added.text

    # More retries than the free plan's 20 expenses a day: a retry costs no use of the quota.
    window = api.quota_window_with_room(asha, "expenses_per_day", 120)
    expenses = _together(
        api,
        asha,
        f"/v1/{group}/expenses",
        paid_by_one(asha.user_id, [asha.user_id, ravi.user_id], 1000),
    )
    payment = {
        "payer": f"users/{ravi.user_id}",
        "payee": f"users/{asha.user_id}",
        "amount": {"currencyCode": "INR", "amountMinor": "200"},
    }
    settlements = _together(api, ravi, f"/v1/{group}/settlements", payment)
    assert len(expenses) == 1 and len(settlements) == 1
    after = api.quota(asha, "expenses_per_day")
    assert (after["resetTime"], after["used"]) == (window["resetTime"], str(int(window["used"]) + 1))

    listed = api.call("GET", f"/v1/{group}/expenses", asha).json()["expenses"]
    assert [e["name"] for e in listed] == list(expenses)
    balances = api.call("GET", f"/v1/{group}/balances?currencyCode=INR", asha).json()["members"]
    nets = {m["user"]: sum(int(n["amountMinor"]) for n in m["net"]) for m in balances}
    assert nets == {f"users/{asha.user_id}": 300, f"users/{ravi.user_id}": -300}
