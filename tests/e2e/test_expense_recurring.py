"""The recurring-expense job creates each occurrence exactly once, however often it runs."""

from __future__ import annotations

from datetime import date, timedelta

import grpc
import pytest
from google.type import date_pb2
from hisaab.expense.v1 import expense_pb2, expense_pb2_grpc

from libs import clock
from tests.e2e.test_expense_files import group_of
from tests.support import Api, Session, service_token

pytestmark = [pytest.mark.e2e, pytest.mark.clock]


def _date(d: date) -> dict[str, int]:
    return {"year": d.year, "month": d.month, "day": d.day}


def _service_token(api: Api) -> str:
    return service_token(api.stack, "notification")  # the job runner


def _run(api: Api, token: str, day: date, group: str) -> expense_pb2.GenerateRecurringOccurrencesResponse:
    with grpc.insecure_channel(api.stack.address("expense")) as channel:
        stub = expense_pb2_grpc.ExpenseServiceStub(channel)
        request = expense_pb2.GenerateRecurringOccurrencesRequest(
            run_date=date_pb2.Date(year=day.year, month=day.month, day=day.day), group=group
        )
        return stub.GenerateRecurringOccurrences(
            request, metadata=(("authorization", f"Bearer {token}"),), timeout=30
        )


def _count(api: Api, who: Session, group: str) -> int:
    return len(api.call("GET", f"/v1/{group}/expenses?pageSize=100", who).json().get("expenses", []))


def test_daily_rule_runs_once_per_occurrence(api: Api) -> None:
    asha, ravi = api.sign_in(), api.sign_in()
    api.buy_pro(asha)
    group = group_of(api, asha, ravi)
    # Dates ahead of the server's business day: the daily schedule, which may fire while
    # this runs, only creates occurrences due by today, so it never touches this rule.
    start = clock.business_today() + timedelta(days=10)
    rule = {
        "frequency": "DAILY",
        "startDate": _date(start),
        "template": {
            "description": "Milk",
            "category": "GROCERIES",
            "transactionDate": _date(start),
            "total": {"currencyCode": "INR", "amountMinor": "6000"},
            "payers": [{"user": f"users/{asha.user_id}", "paidMinor": "6000"}],
            "split": {"equal": {"participants": [f"users/{asha.user_id}", f"users/{ravi.user_id}"]}},
        },
    }
    created = api.call("POST", f"/v1/{group}/recurringExpenses", asha, json=rule)
    assert created.status_code == 200, created.text
    assert created.json()["nextOccurrenceDate"] == _date(start)

    token = _service_token(api)
    run_day = start + timedelta(days=2)
    one = _run(api, token, run_day, group)
    two = _run(api, token, run_day, group)
    mine = created.json()["name"]
    assert [(r.rule, r.expenses_created, r.failed) for r in one.rules] == [(mine, 3, False)]
    assert (one.rules_processed, one.expenses_created) == (1, 3)
    assert two.expenses_created == 0 and all(r.rule == mine for r in two.rules)
    assert _count(api, asha, group) == 3
    listed = api.call("GET", f"/v1/{group}/expenses?pageSize=100", ravi).json()["expenses"]
    assert all(e["recurringExpense"] == created.json()["name"] for e in listed)
    after = api.call("GET", f"/v1/{created.json()['name']}", asha).json()
    assert after["nextOccurrenceDate"] == _date(run_day + timedelta(days=1))

    # A user token (without the internal scope) may not run the job.
    with pytest.raises(grpc.RpcError) as refused:
        _run(api, asha.access_token, run_day + timedelta(days=5), group)
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert _count(api, asha, group) == 3
