"""The feature gate through REST, on a kit service with gated methods (no gate code of its own):
403 naming the packs, a purchase lifts it within one request, expiry closes it (the job emits an
event), and every decision is the same with Redis stopped."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from libs import clock
from libs.db.database import sqlalchemy_url
from libs.tests.fixtures.gated_service import start_gated_gateway
from tests.e2e.test_pricing_purchase import buy, reason
from tests.support import Api, Session, parse_time
from tools.devstack.stack import REPO_ROOT, Stack

pytestmark = [pytest.mark.e2e, pytest.mark.clock]


@pytest.fixture(scope="module")
def gated(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    gateway = start_gated_gateway(stack, tmp_path_factory.mktemp("gated"))
    client = Api(stack)
    client.http = httpx.Client(base_url=gateway.rest_url, timeout=20)
    try:
        yield client
    finally:
        client.http.close()
        gateway.stop()


def upload(api: Api, session: Session) -> httpx.Response:
    name = f"groups/{uuid.uuid4()}/expenses/{uuid.uuid4()}"
    return api.call(
        "POST",
        f"/v1/{name}:createReceiptUpload",
        session,
        json={"contentType": "image/jpeg", "sizeBytes": "1000"},
    )


def summary(api: Api, session: Session) -> httpx.Response:
    return api.call("GET", f"/v1/groups/{uuid.uuid4()}:summarizeSpending?currencyCode=INR", session)


def create(api: Api, session: Session, description: str = "Chai") -> httpx.Response:
    body = {
        "description": description,
        "transactionDate": {"year": 2026, "month": 1, "day": 2},
        "total": {"currencyCode": "INR", "amountMinor": "2000"},
        "payers": [{"user": f"users/{session.user_id}", "paidMinor": "2000"}],
        "split": {"equal": {"participants": [f"users/{session.user_id}"]}},
    }
    return api.call("POST", f"/v1/groups/{uuid.uuid4()}/expenses", session, json=body)


def test_a_gate_names_the_packs_and_a_purchase_lifts_it_within_one_request(gated: Api) -> None:
    asha = gated.sign_in()
    denied = upload(gated, asha)
    assert denied.status_code == 403, denied.text
    why, meta = reason(denied)
    assert why == "FEATURE_REQUIRED" and meta["feature"] == "receipts"
    assert {"packs/trip_7d", "packs/pro_monthly"} <= set(meta["packs"].split(","))
    assert denied.json()["code"] == 7  # PERMISSION_DENIED in the google.rpc.Status body
    # The upsell sheet draws from the error alone: each pack as the catalog lists it.
    (offer,) = [
        d for d in denied.json()["details"] if d["@type"].endswith("hisaab.common.v1.FeatureRequired")
    ]
    assert offer["feature"] == "receipts"
    listed = {p["name"]: p for p in gated.call("GET", "/v1/packs").json()["packs"]}
    assert [p["pack"] for p in offer["packs"]] == meta["packs"].split(",")
    for pack in offer["packs"]:
        shown = listed[pack["pack"]]
        assert pack["displayName"] == shown["displayName"] and pack["displayName"]
        assert pack["price"] == shown["price"] and int(pack["price"]["amountMinor"]) > 0
        assert pack["duration"] == shown["duration"]

    buy(gated, asha, "packs/trip_7d")
    allowed = upload(gated, asha)
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["url"].startswith("https://")
    assert summary(gated, asha).status_code == 403  # charts is not in the trip pack


def test_expiry_closes_the_gate_and_the_job_emits_an_event(gated: Api, stack: Stack) -> None:
    # A pack that lasts seconds, added to the catalog as an admin would (data, not a deploy).
    key = f"flash_{uuid.uuid4().hex[:8]}"
    engine = create_engine(sqlalchemy_url(stack.database_url))
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO pricing.packs (key, display_name, features, duration_seconds, price_inr_minor, "
                "sort_order) VALUES (:key, 'Flash', ARRAY['charts'], 3, 100, 999)"
            ),
            {"key": key},
        )
    meera = gated.sign_in()
    assert summary(gated, meera).status_code == 403
    paid = buy(gated, meera, f"packs/{key}")
    assert summary(gated, meera).status_code == 200
    ends = parse_time(gated.call("GET", "/v1/users/me/features", meera).json()["expireTimes"]["charts"])
    assert ends > parse_time(str(paid["paidTime"]))
    # Closed on time by the gate's own time comparison: no job needs to run for it.
    deadline = time.monotonic() + 30
    late = summary(gated, meera)
    while late.status_code == 200 and time.monotonic() < deadline:
        time.sleep(0.1)
        late = summary(gated, meera)
    assert late.status_code == 403 and reason(late)[1]["feature"] == "charts"
    assert clock.now() >= ends

    def expired_events() -> list[Any]:
        with engine.begin() as conn:
            return list(
                conn.execute(
                    text(
                        "SELECT payload FROM kit.outbox "
                        "WHERE event_type = 'entitlements.expired' AND aggregate = :a"
                    ),
                    {"a": f"users/{meera.user_id}"},
                ).all()
            )

    ran = subprocess.run(
        [sys.executable, "-m", "services.pricing.jobs", "expire"],
        env=stack.service_env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    result = json.loads(ran.stdout)
    if f"users/{meera.user_id}" in result["users"]:
        assert result["expired_count"] >= 1
    # Else the schedule, which runs the same job every quarter hour, got there first. Either
    # way the pack ended exactly once, with one event.
    events = expired_events()
    with engine.begin() as conn:
        conn.execute(text("UPDATE pricing.packs SET active = false WHERE key = :key"), {"key": key})
    engine.dispose()
    assert [e.payload["features"] for e in events] == [["charts"]]
    entitlements = gated.call(
        "GET", "/v1/users/me/entitlements", meera, params={"showInactive": "true"}
    ).json()["entitlements"]
    assert [e["active"] for e in entitlements] == [False]
    assert summary(gated, meera).status_code == 403


def _decide(gated: Api, free: Session, paid: Session, capped: Session) -> list[int]:
    return [
        upload(gated, free).status_code,
        upload(gated, paid).status_code,
        create(gated, capped).status_code,
    ]


def test_gate_decisions_are_identical_with_redis_stopped(gated: Api, stack: Stack) -> None:
    free, paid, capped = gated.sign_in(), gated.sign_in(), gated.sign_in()
    buy(gated, paid, "packs/trip_7d")
    # The capped user's quota must stay used up for every decision below: one window for all.
    usage = gated.quota_window_with_room(capped, "expenses_per_day", 120)
    for _ in range(int(usage["limit"])):
        assert create(gated, capped).status_code == 200
    with_redis = _decide(gated, free, paid, capped)
    assert with_redis == [403, 200, 429]
    assert stack.valkey is not None
    stack.valkey.stop()
    try:
        without_redis = _decide(gated, free, paid, capped)
        # Buying while Redis is down still lifts the gate at once (PostgreSQL decides).
        buy(gated, free, "packs/trip_7d")
        lifted = upload(gated, free).status_code
    finally:
        stack.valkey.start()
    assert without_redis == with_redis
    assert lifted == 200
