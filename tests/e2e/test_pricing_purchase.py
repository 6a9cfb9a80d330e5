"""Pricing over REST through Envoy: the catalog, buying a pack with the dev provider, idempotent
orders, my features and entitlements, re-buying extends; internal RPCs stay internal."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import grpc
import httpx
import pytest
from hisaab.common.v1 import money_pb2
from hisaab.pricing.v1 import pricing_pb2, pricing_pb2_grpc

from tests.contract.test_contract import KNOWN_FEATURES
from tests.support import Api, Session

pytestmark = pytest.mark.e2e

# Every feature the contract names is on sale in some pack.
ALL_FEATURES = set(KNOWN_FEATURES)


def reason(resp: httpx.Response) -> tuple[str, dict[str, str]]:
    assert resp.headers["content-type"].startswith("application/json"), resp.text
    for detail in resp.json().get("details", []):
        if detail["@type"].endswith("google.rpc.ErrorInfo"):
            return str(detail["reason"]), dict(detail.get("metadata", {}))
    return "", {}


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def buy(api: Api, session: Session, pack: str) -> dict[str, object]:
    """Buys a pack with the dev provider, as the app's checkout would; returns the paid order."""
    created = api.call("POST", "/v1/orders", session, json={"pack": pack, "provider": "DEV"})
    assert created.status_code == 200, created.text
    assert created.json()["state"] == "CREATED"
    confirmed = api.call(
        "POST", f"/v1/{created.json()['name']}:confirmPayment", session, json={"providerPaymentId": "dev_pay"}
    )
    assert confirmed.status_code == 200, confirmed.text
    body: dict[str, object] = confirmed.json()
    assert body["state"] == "PAID"
    return body


def test_the_catalog_is_public_and_priced_in_paise(api: Api) -> None:
    packs = api.call("GET", "/v1/packs")
    assert packs.status_code == 200, packs.text
    by_key = {p["key"]: p for p in packs.json()["packs"]}
    trip = by_key["trip_7d"]
    assert trip["price"] == {"currencyCode": "INR", "amountMinor": "4900"}  # ₹49 in paise, never a float
    assert trip["duration"] == f"{7 * 24 * 3600}s" and "receipts" in trip["features"]
    assert all(p["active"] for p in packs.json()["packs"])
    orders = [p["sortOrder"] for p in packs.json()["packs"]]
    assert orders == sorted(orders)
    features = {f["key"] for f in api.call("GET", "/v1/features").json()["features"]}
    assert features >= ALL_FEATURES
    quotas = {q["key"]: q for q in api.call("GET", "/v1/quotas").json()["quotas"]}
    assert quotas["expenses_per_day"]["limit"] == "20"
    assert quotas["expenses_per_day"]["liftedByFeature"] == "unlimited_expenses"


def test_buy_with_the_dev_provider_then_see_my_features_and_extend(api: Api) -> None:
    asha = api.sign_in()
    mine = api.call("GET", "/v1/users/me/features", asha).json()
    assert mine["features"] == [] and mine["expireTimes"] == {}
    [quota] = [q for q in mine["quotas"] if q["key"] == "expenses_per_day"]
    assert quota["allowed"] is True and quota["unlimited"] is False and quota["used"] == "0"

    request_id = str(uuid.uuid4())
    body = {"pack": "packs/pro_monthly", "provider": "DEV"}
    first = api.call("POST", "/v1/orders", asha, json=body, params={"requestId": request_id})
    again = api.call("POST", "/v1/orders", asha, json=body, params={"requestId": request_id})
    assert first.status_code == again.status_code == 200, first.text
    assert first.json()["name"] == again.json()["name"]  # a retry never opens a second order
    assert first.json()["amount"] == {"currencyCode": "INR", "amountMinor": "9900"}
    reused = api.call(
        "POST", "/v1/orders", asha, json={**body, "pack": "packs/trip_7d"}, params={"requestId": request_id}
    )
    assert reused.status_code == 409 and reason(reused)[0] == "REQUEST_ID_REUSED"

    order = first.json()["name"]
    confirmed = api.call("POST", f"/v1/{order}:confirmPayment", asha, json={"providerPaymentId": "dev_pay_1"})
    assert confirmed.status_code == 200 and confirmed.json()["state"] == "PAID", confirmed.text
    paid_at = when(confirmed.json()["paidTime"])
    twice = api.call("POST", f"/v1/{order}:confirmPayment", asha, json={"providerPaymentId": "dev_pay_1"})
    assert twice.status_code == 200 and twice.json()["state"] == "PAID"

    mine = api.call("GET", "/v1/users/me/features", asha).json()
    assert set(mine["features"]) == ALL_FEATURES
    ends = {when(t) for t in mine["expireTimes"].values()}
    assert ends == {paid_at + timedelta(days=30)}
    [quota] = [q for q in mine["quotas"] if q["key"] == "expenses_per_day"]
    assert quota["unlimited"] is True
    entitlements = api.call("GET", "/v1/users/me/entitlements", asha).json()["entitlements"]
    assert len(entitlements) == len(ALL_FEATURES) and all(e["active"] for e in entitlements)
    assert {e["order"] for e in entitlements} == {order}

    # Buying the same pack again extends every feature by another 30 days.
    second = buy(api, asha, "packs/pro_monthly")
    extended = api.call("GET", "/v1/users/me/features", asha).json()["expireTimes"]
    assert {when(t) for t in extended.values()} == {paid_at + timedelta(days=60)}
    listed = api.call("GET", "/v1/orders", asha).json()["orders"]
    assert [o["name"] for o in listed] == [second["name"], order]


def test_orders_are_private_and_bad_requests_name_the_field(api: Api) -> None:
    asha, ravi = api.sign_in(), api.sign_in()
    order = api.call("POST", "/v1/orders", asha, json={"pack": "packs/trip_7d", "provider": "DEV"}).json()
    assert api.call("GET", f"/v1/{order['name']}", ravi).status_code == 404
    stolen = api.call("POST", f"/v1/{order['name']}:confirmPayment", ravi, json={"providerPaymentId": "p"})
    assert stolen.status_code == 404
    assert api.call("GET", f"/v1/{order['name']}", asha).json()["state"] == "CREATED"
    store = api.call("POST", "/v1/orders", asha, json={"pack": "packs/trip_7d", "provider": "GOOGLE_PLAY"})
    assert store.status_code == 400 and reason(store) == ("INVALID_FIELD", {"field": "provider"})
    missing = api.call("POST", "/v1/orders", asha, json={"pack": "packs/no_such_pack", "provider": "DEV"})
    assert missing.status_code == 404
    assert (
        api.call("POST", "/v1/orders", json={"pack": "packs/trip_7d", "provider": "DEV"}).status_code == 401
    )


def test_webhook_without_a_valid_signature_is_refused(api: Api) -> None:
    body = b'{"event": "payment.captured", "payload": {}}'
    refused = api.call(
        "POST",
        "/v1/webhooks/razorpay",
        content=body,
        headers={"content-type": "application/json", "x-razorpay-signature": "0" * 64},
    )
    assert refused.status_code == 401, refused.text


def test_internal_rpcs_are_for_admins_or_the_user_themself(api: Api) -> None:
    asha, ravi = api.sign_in(), api.sign_in()
    with grpc.insecure_channel(api.stack.address("pricing")) as channel:
        stub = pricing_pb2_grpc.PricingServiceStub(channel)
        auth = (("authorization", f"Bearer {asha.access_token}"),)
        # A complete pack: the refusal is for the caller, not for a missing field.
        pack = pricing_pb2.Pack(key="free", price=money_pb2.Money(currency_code="INR", amount_minor=100))
        with pytest.raises(grpc.RpcError) as denied:
            stub.UpsertPack(pricing_pb2.UpsertPackRequest(pack=pack), metadata=auth)
        assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
        with pytest.raises(grpc.RpcError) as other:
            stub.CheckEntitlements(
                pricing_pb2.CheckEntitlementsRequest(user=f"users/{ravi.user_id}"), metadata=auth
            )
        assert other.value.code() == grpc.StatusCode.PERMISSION_DENIED
        with pytest.raises(grpc.RpcError) as job:
            stub.ExpireEntitlements(pricing_pb2.ExpireEntitlementsRequest(), metadata=auth)
        assert job.value.code() == grpc.StatusCode.PERMISSION_DENIED
        own = stub.CheckEntitlements(
            pricing_pb2.CheckEntitlementsRequest(user=f"users/{asha.user_id}", quotas=["expenses_per_day"]),
            metadata=auth,
        )
        assert list(own.granted) == [] and own.quotas[0].allowed
