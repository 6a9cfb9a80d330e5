"""The free daily expense quota over REST: exactly the limit, then 429 with the reset time; a
failed create is not counted; buying a pack with unlimited_expenses lifts it within one request.
"""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from libs.tests.fixtures.gated_service import FAIL
from tests.e2e.test_pricing_purchase import buy, reason
from tests.support import Api, Session

pytestmark = pytest.mark.e2e

INDIA = ZoneInfo("Asia/Kolkata")


@pytest.fixture(scope="module")
def expenses(api: Api) -> Api:
    return api


def next_midnight_in_india() -> datetime:
    today = datetime.now(INDIA).date()
    return datetime.combine(today + timedelta(days=1), time(0), INDIA)


def expense(api: Api, session: Session, group: str, *, valid: bool = True) -> httpx.Response:
    body = {
        "description": "Auto to the station" if valid else FAIL,
        "category": "TRANSPORT",
        "expenseDate": {"year": 2026, "month": 1, "day": 2},
        "total": {"currencyCode": "INR", "amountMinor": "15000" if valid else "-1"},
        "split": {"equal": {"participants": [f"users/{session.user_id}"]}},
    }
    return api.call(
        "POST", f"/v1/{group}/expenses", session, json=body, params={"requestId": str(uuid.uuid4())}
    )


def test_free_users_get_exactly_the_daily_limit_then_429_until_midnight_in_india(
    api: Api, expenses: Api
) -> None:
    ravi = api.sign_in()
    group = api.call("POST", "/v1/groups", ravi, json={"displayName": "Flat", "kind": "HOME"}).json()["name"]
    limit = int(
        next(q for q in api.call("GET", "/v1/quotas").json()["quotas"] if q["key"] == "expenses_per_day")[
            "limit"
        ]
    )
    for i in range(limit - 1):
        made = expense(expenses, ravi, group)
        assert made.status_code == 200, (i, made.text)
    # A create that fails after the gate let it in does not use up the quota.
    failed = expense(expenses, ravi, group, valid=False)
    assert failed.status_code == 400, failed.text
    assert expense(expenses, ravi, group).status_code == 200  # the limit-th one

    over = expense(expenses, ravi, group)
    assert over.status_code == 429, over.text
    why, meta = reason(over)
    assert why == "QUOTA_EXCEEDED" and meta["quota"] == "expenses_per_day" and meta["limit"] == str(limit)
    reset = datetime.fromisoformat(meta["reset_time"].replace("Z", "+00:00"))
    assert reset == next_midnight_in_india()
    usage = next(
        q
        for q in api.call("GET", "/v1/users/me/features", ravi).json()["quotas"]
        if q["key"] == "expenses_per_day"
    )
    assert usage["used"] == str(limit) and usage["allowed"] is False

    buy(api, ravi, "packs/trip_7d")  # includes unlimited_expenses
    lifted = expense(expenses, ravi, group)
    assert lifted.status_code == 200, lifted.text
