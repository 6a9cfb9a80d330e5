"""Spending summaries for charts: by category, by month with gaps filled, by member; gated by `charts`."""

from __future__ import annotations

from datetime import date

import pytest

from tests.e2e.test_expense_files import group_of
from tests.support import Api, Session, paid_by_one

pytestmark = pytest.mark.e2e


def _expense(
    api: Api, who: Session, group: str, users: list[str], amount: int, category: str, month: int
) -> None:
    body = paid_by_one(
        who.user_id, users, amount, description=category.title(), category=category, day=date(2026, month, 10)
    )
    assert api.call("POST", f"/v1/{group}/expenses", who, json=body).status_code == 200


def test_summary_by_category_month_and_member(api: Api) -> None:
    asha, ravi = api.sign_in(), api.sign_in()
    group = group_of(api, asha, ravi)
    both = [asha.user_id, ravi.user_id]
    _expense(api, asha, group, both, 10000, "FOOD", 1)
    _expense(api, ravi, group, both, 30000, "RENT", 3)
    _expense(api, asha, group, both, 5001, "FOOD", 3)
    query = "currencyCode=INR&startDate.year=2026&startDate.month=1&startDate.day=1"
    query += "&endDate.year=2026&endDate.month=4&endDate.day=30"
    gated = api.call("GET", f"/v1/{group}:summarizeSpending?{query}", asha)
    assert gated.status_code == 403
    api.buy_pro(asha)
    summary = api.call("GET", f"/v1/{group}:summarizeSpending?{query}", asha).json()
    assert summary["total"]["amountMinor"] == "45001"
    assert [(c["category"], c["total"]["amountMinor"], c["expenseCount"]) for c in summary["categories"]] == [
        ("RENT", "30000", 1),
        ("FOOD", "15001", 2),
    ]
    assert [m["total"]["amountMinor"] for m in summary["months"]] == ["10000", "0", "35001", "0"]
    members = {m["user"]: (m["paid"]["amountMinor"], m["owed"]["amountMinor"]) for m in summary["members"]}
    assert members[f"users/{ravi.user_id}"][0] == "30000"
    assert sum(int(o) for _, o in members.values()) == 45001
    mine = api.call("GET", f"/v1/{group}:summarizeSpending?{query}&callerShareOnly=true", asha).json()
    assert int(mine["total"]["amountMinor"]) in range(22500, 22502)
    everywhere = api.call("GET", f"/v1/groups/-:summarizeSpending?{query}", asha).json()
    assert everywhere["total"]["amountMinor"] == "45001" and everywhere.get("members", []) == []
