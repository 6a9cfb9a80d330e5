"""The free daily expense quota over REST: exactly the limit per business day, then 429 with the
reset time; a failed create is not counted; buying a pack with unlimited_expenses lifts it within
one request.

The run may straddle midnight in the business time zone (the window then resets under it), so
counts are kept per window, as each accepted create's quota headers name it.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime, time, timedelta

import httpx
import pytest

from libs import clock
from libs.tests.fixtures.gated_service import FAIL
from tests.e2e.test_pricing_purchase import buy, reason
from tests.support import Api, Session

pytestmark = [pytest.mark.e2e, pytest.mark.clock]


@pytest.fixture(scope="module")
def expenses(api: Api) -> Api:
    return api


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def is_next_business_midnight(reset: datetime, before: datetime, after: datetime) -> bool:
    """Whether ``reset`` is the first business-day midnight after some moment in [before, after]."""
    days = {clock.business_date(before), clock.business_date(after)}
    midnights = {datetime.combine(d + timedelta(days=1), time(0), clock.BUSINESS_ZONE) for d in days}
    return reset in midnights


def expense(api: Api, session: Session, group: str, *, valid: bool = True) -> httpx.Response:
    body = {
        "description": "Auto to the station" if valid else FAIL,
        "category": "TRANSPORT",
        "transactionDate": {"year": 2026, "month": 1, "day": 2},
        "total": {"currencyCode": "INR", "amountMinor": "15000" if valid else "-1"},
        "payers": [{"user": f"users/{session.user_id}", "paidMinor": "15000" if valid else "-1"}],
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
    accepted: Counter[str] = Counter()  # accepted creates by the window (reset time) they counted in
    started = clock.now()
    over: httpx.Response | None = None
    # At most two windows' worth: the run may cross one midnight, never two.
    for i in range(2 * limit + 2):
        if i == limit // 2:
            # A create that fails after the gate let it in does not use up the quota.
            failed = expense(expenses, ravi, group, valid=False)
            assert failed.status_code == 400, failed.text
        made = expense(expenses, ravi, group)
        if made.status_code == 429:
            over = made
            break
        assert made.status_code == 200, (i, made.text)
        window = made.headers["x-quota-reset"]
        accepted[window] += 1
        assert made.headers["x-quota-name"] == "expenses_per_day"
        assert made.headers["x-quota-limit"] == str(limit)
        assert made.headers["x-quota-remaining"] == str(limit - accepted[window])
    assert over is not None, f"no 429 after {sum(accepted.values())} creates"
    why, meta = reason(over)
    assert why == "QUOTA_EXCEEDED" and meta["quota"] == "expenses_per_day" and meta["limit"] == str(limit)
    assert accepted[meta["reset_time"]] == limit  # exactly the limit in the window that refused
    assert is_next_business_midnight(instant(meta["reset_time"]), started, clock.now())
    usage = next(
        q
        for q in api.call("GET", "/v1/users/me/features", ravi).json()["quotas"]
        if q["key"] == "expenses_per_day"
    )
    if instant(usage["resetTime"]) == instant(meta["reset_time"]):  # still the window that refused
        assert usage["used"] == str(limit) and usage["allowed"] is False
    else:  # midnight came in between: a fresh window
        assert "used" not in usage and usage["allowed"] is True

    buy(api, ravi, "packs/trip_7d")  # includes unlimited_expenses
    lifted = expense(expenses, ravi, group)
    assert lifted.status_code == 200, lifted.text
