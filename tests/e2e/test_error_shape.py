"""One error shape through Envoy: whatever refuses a request (the gateway itself or a service)
answers with the same google.rpc.Status JSON, naming fields by the JSON names the client sent;
and a misspelt field in a money-moving request is refused, never replaced by a default."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.e2e.test_expense_files import group_of
from tests.support import Api, Session, paid_by_one

pytestmark = pytest.mark.e2e

_INFO = "type.googleapis.com/google.rpc.ErrorInfo"
_BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"


def status(resp: httpx.Response) -> dict[str, Any]:
    """The google.rpc.Status body, checked for the shape every error has."""
    assert resp.headers["content-type"].startswith("application/json"), resp.text
    body = resp.json()
    assert set(body) == {"code", "message", "details"}, body
    assert isinstance(body["code"], int) and body["message"]
    (info,) = [d for d in body["details"] if d["@type"] == _INFO]
    assert info["domain"] == "hisaab.app"
    return dict(body)


def reason(resp: httpx.Response) -> str:
    return str(next(d for d in status(resp)["details"] if d["@type"] == _INFO)["reason"])


def violations(resp: httpx.Response) -> list[str]:
    return [
        v["field"]
        for d in status(resp)["details"]
        if d["@type"] == _BAD_REQUEST
        for v in d["fieldViolations"]
    ]


def field_error(resp: httpx.Response, field: str) -> None:
    """A 400 naming exactly ``field`` in the violation, the ErrorInfo and the message."""
    assert resp.status_code == 400, resp.text
    assert status(resp)["code"] == 3
    assert reason(resp) == "INVALID_FIELD"
    assert violations(resp) == [field]
    info = next(d for d in resp.json()["details"] if d["@type"] == _INFO)
    assert info["metadata"]["field"] == field
    assert resp.json()["message"].startswith(f"{field}: ")


@pytest.fixture(scope="module")
def trip(api: Api) -> tuple[Session, Session, str]:
    asha, ravi = api.sign_in(), api.sign_in()
    return asha, ravi, group_of(api, asha, ravi)


def test_gateway_refusals_are_google_rpc_status(api: Api, trip: tuple[Session, Session, str]) -> None:
    asha, ravi, group = trip
    url = f"/v1/{group}/expenses"

    broken = api.call(
        "POST", url, asha, content=b'{"description": ', headers={"content-type": "application/json"}
    )
    assert broken.status_code == 400 and reason(broken) == "INVALID_REQUEST" and status(broken)["code"] == 3

    body = paid_by_one(asha.user_id, [asha.user_id, ravi.user_id], 1250)
    body["total"]["amountMinor"] = "12.50"
    field_error(api.call("POST", url, asha, json=body), "expense.total.amountMinor")

    body = paid_by_one(asha.user_id, [asha.user_id], 1250)
    body["category"] = "NOT_A_CATEGORY"
    field_error(api.call("POST", url, asha, json=body), "expense.category")

    field_error(api.call("GET", f"{url}?pageSize=5&colour=red", asha), "colour")

    huge = api.call("POST", url, asha, json={"description": "x" * (2 * 1024 * 1024)})
    assert huge.status_code == 413 and reason(huge) == "REQUEST_TOO_LARGE" and status(huge)["code"] == 3

    nowhere = api.call("GET", "/v1/no/such/thing", asha)
    assert (
        nowhere.status_code == 404 and reason(nowhere) == "NO_SUCH_METHOD" and status(nowhere)["code"] == 12
    )

    wrong_verb = api.call("PUT", url, asha, json={})
    assert wrong_verb.status_code in (404, 405) and reason(wrong_verb) == "NO_SUCH_METHOD"


def test_service_errors_name_fields_in_json(api: Api, trip: tuple[Session, Session, str]) -> None:
    asha, ravi, group = trip
    body = paid_by_one(asha.user_id, [asha.user_id, ravi.user_id], 1000)
    body["total"]["currencyCode"] = "XYZ"
    field_error(api.call("POST", f"/v1/{group}/expenses", asha, json=body), "expense.total.currencyCode")

    body = paid_by_one(asha.user_id, [asha.user_id, ravi.user_id], 1000)
    body["payers"][0]["paidMinor"] = "-1000"
    refused = api.call("POST", f"/v1/{group}/expenses", asha, json=body)
    assert refused.status_code == 400 and violations(refused)[0].startswith("expense.payers"), refused.text
    assert "_" not in violations(refused)[0], refused.text


def test_a_misspelt_money_field_is_refused_not_defaulted(
    api: Api, trip: tuple[Session, Session, str]
) -> None:
    asha, ravi, group = trip
    url = f"/v1/{group}/expenses"
    body = paid_by_one(ravi.user_id, [asha.user_id, ravi.user_id], 1000)
    body["payer"] = body.pop("payers")  # dropped by the transcoder as an unknown field
    field_error(api.call("POST", url, asha, json=body), "expense.payers")

    body = paid_by_one(ravi.user_id, [asha.user_id, ravi.user_id], 1000)
    body["splt"] = body.pop("split")
    field_error(api.call("POST", url, asha, json=body), "expense.split")

    body = paid_by_one(ravi.user_id, [asha.user_id, ravi.user_id], 1000)
    body["payers"] = [{"user": f"users/{ravi.user_id}", "paid": "1000"}]
    field_error(api.call("POST", url, asha, json=body), "expense.payers[0].paidMinor")

    body = paid_by_one(ravi.user_id, [asha.user_id, ravi.user_id], 1000)
    body["total"] = {"currency": "INR", "amountMinor": "1000"}
    field_error(api.call("POST", url, asha, json=body), "expense.total.currencyCode")

    body = paid_by_one(ravi.user_id, [asha.user_id, ravi.user_id], 1000)
    entries = [
        {"user": f"users/{ravi.user_id}", "amountMinor": "1000"},
        {"user": f"users/{asha.user_id}", "amount": "0"},
    ]
    body["split"] = {"exact": {"entries": entries}}  # the sum would still match the total
    field_error(api.call("POST", url, asha, json=body), "expense.split.exact.entries[1].amountMinor")

    settle = {"payer": f"users/{ravi.user_id}", "payee": f"users/{asha.user_id}"}
    settle["ammount"] = {"currencyCode": "INR", "amountMinor": "500"}  # type: ignore[assignment]
    field_error(api.call("POST", f"/v1/{group}/settlements", asha, json=settle), "settlement.amount")

    # Nothing above moved any money.
    listed = api.call("GET", url, asha)
    assert listed.status_code == 200 and listed.json().get("expenses", []) == []


def test_the_day_the_money_moved_is_transaction_date_and_an_old_name_is_never_obeyed(
    api: Api, trip: tuple[Session, Session, str]
) -> None:
    asha, ravi, _ = trip
    group = group_of(api, asha, ravi)  # its own ledger: the trip's must stay empty
    day = {"year": 2025, "month": 3, "day": 14}
    body = {**paid_by_one(ravi.user_id, [asha.user_id, ravi.user_id], 800), "transactionDate": day}
    expense = api.call("POST", f"/v1/{group}/expenses", asha, json={**body, "note": "cab"})
    assert expense.status_code == 200, expense.text
    assert expense.json()["transactionDate"] == day and expense.json()["note"] == "cab"
    assert {"expenseDate", "notes"}.isdisjoint(expense.json()), expense.text

    pay = {
        "payer": f"users/{asha.user_id}",
        "payee": f"users/{ravi.user_id}",
        "amount": {"currencyCode": "INR", "amountMinor": "400"},
    }
    settled = api.call("POST", f"/v1/{group}/settlements", asha, json={**pay, "transactionDate": day})
    assert settled.status_code == 200, settled.text
    read = api.call("GET", f"/v1/{settled.json()['name']}", asha).json()
    assert settled.json()["transactionDate"] == read["transactionDate"] == day
    assert "settleDate" not in read, read

    # The gateway drops a retired name as an unknown field. An expense has no date to fall
    # back on, so the old spelling is refused, and so are a mask and an order that use it.
    old = {k: v for k, v in body.items() if k != "transactionDate"} | {"expenseDate": day}
    field_error(api.call("POST", f"/v1/{group}/expenses", asha, json=old), "expense.transactionDate")
    edit = api.call(
        "PATCH",
        f"/v1/{expense.json()['name']}",
        asha,
        params={"updateMask": "expenseDate"},
        json={"expenseDate": day, "etag": expense.json()["etag"]},
    )
    field_error(edit, "updateMask")
    ordered = api.call("GET", f"/v1/{group}/expenses", asha, params={"orderBy": "expense_date desc"})
    field_error(ordered, "orderBy")
    listed = api.call("GET", f"/v1/{group}/expenses", asha, params={"orderBy": "transaction_date"}).json()
    assert [(e["name"], e["transactionDate"]) for e in listed["expenses"]] == [(expense.json()["name"], day)]

    # A settlement's date is optional (docs/api.md): one sent under the old name is not the
    # date recorded; today's is, and the answer says so.
    late = api.call("POST", f"/v1/{group}/settlements", asha, json={**pay, "settleDate": day})
    assert late.status_code == 200, late.text
    assert late.json()["transactionDate"] != day and "settleDate" not in late.json(), late.text
