"""What a screen needs from one call, through Envoy: a display name beside every user id (expenses,
payers, shares, debts, converted debts, charts, settlements, comments, activity, members) and the
currency facts to render an amount (GET /v1/currencies)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.support import Api, Session, random_phone

pytestmark = pytest.mark.e2e

PERSON_FIELDS = ("user", "payer", "payee", "creator", "lastEditor", "author", "actor")


def _name_field(field: str) -> str:
    return "displayName" if field == "user" else f"{field}DisplayName"


def people(value: Any) -> list[tuple[str, str]]:
    """(user id, name shown beside it) for every user field anywhere in a JSON response."""
    found: list[tuple[str, str]] = []
    if isinstance(value, dict):
        for field in PERSON_FIELDS:
            if isinstance(value.get(field), str) and value[field].startswith("users/"):
                found.append((value[field].removeprefix("users/"), value.get(_name_field(field), "")))
        for child in value.values():
            found += people(child)
    elif isinstance(value, list):
        for child in value:
            found += people(child)
    return found


def ok(resp: Any) -> Any:
    assert resp.status_code == 200, resp.text
    return resp.json()


@pytest.fixture(scope="module")
def trip(api: Api) -> tuple[Session, str, dict[str, str]]:
    """A group of three with one expense paid by two, a comment and a settlement; the roster's names."""
    asha = api.sign_in()
    api.buy_pro(asha)
    ok(api.call("PATCH", "/v1/users/me?updateMask=displayName", asha, json={"displayName": "Asha"}))
    group = ok(api.call("POST", "/v1/groups", asha, json={"displayName": "Goa", "kind": "TRIP"}))["name"]
    for friend in ("Ravi", "Meera"):
        body = {"phoneNumber": random_phone(), "displayName": f"{friend} {uuid.uuid4().hex[:4]}"}
        ok(api.call("POST", f"/v1/{group}/members", asha, json=body))
    roster = {
        m["user"].removeprefix("users/"): m["displayName"]
        for m in ok(api.call("GET", f"/v1/{group}/members", asha))["members"]
    }
    assert len(roster) == 3 and all(roster.values())
    ids = sorted(roster, key=lambda u: u != asha.user_id)
    expense = {
        "description": "Dinner",
        "transactionDate": {"year": 2026, "month": 1, "day": 2},
        "total": {"currencyCode": "INR", "amountMinor": "90000"},
        "payers": [
            {"user": f"users/{ids[0]}", "paidMinor": "60000"},
            {"user": f"users/{ids[1]}", "paidMinor": "30000"},
        ],
        "split": {"equal": {"participants": [f"users/{u}" for u in ids]}},
    }
    created = ok(api.call("POST", f"/v1/{group}/expenses", asha, json=expense))
    ok(api.call("POST", f"/v1/{created['name']}/comments", asha, json={"text": "Worth it"}))
    payment = {
        "payer": f"users/{ids[2]}",
        "payee": f"users/{ids[0]}",
        "amount": {"currencyCode": "INR", "amountMinor": "10000"},
    }
    ok(api.call("POST", f"/v1/{group}/settlements", asha, json=payment))
    return asha, group, roster


@pytest.mark.parametrize(
    "path",
    [
        "/v1/{group}/expenses",
        "/v1/{group}/debts",
        "/v1/{group}/convertedDebts?convertTo=INR",
        "/v1/{group}/settlements",
        "/v1/{group}/activities",
        "/v1/{group}/balances",
        "/v1/{group}/members",
        "/v1/{group}:summarizeSpending?currencyCode=INR"
        "&startDate.year=2026&startDate.month=1&startDate.day=1&endDate.year=2026&endDate.month=1&endDate.day=31",
    ],
)
def test_every_user_id_comes_with_the_name_the_roster_shows(
    api: Api, trip: tuple[Session, str, dict[str, str]], path: str
) -> None:
    asha, group, roster = trip
    shown = people(ok(api.call("GET", path.format(group=group), asha)))
    assert shown, path
    assert all(name == roster[user] for user, name in shown), shown


def test_an_expense_names_its_creator_payers_and_shares_and_a_comment_its_author(
    api: Api, trip: tuple[Session, str, dict[str, str]]
) -> None:
    asha, group, roster = trip
    (expense,) = ok(api.call("GET", f"/v1/{group}/expenses", asha))["expenses"]
    assert expense["creatorDisplayName"] == expense["lastEditorDisplayName"] == roster[asha.user_id] == "Asha"
    assert {p["displayName"] for p in expense["payers"]} <= set(roster.values())
    assert len(expense["payers"]) == 2 and len(expense["shares"]) == 3
    assert sorted(s["displayName"] for s in expense["shares"]) == sorted(roster.values())
    (comment,) = ok(api.call("GET", f"/v1/{expense['name']}/comments", asha))["comments"]
    assert comment["authorDisplayName"] == "Asha"
    (settlement,) = ok(api.call("GET", f"/v1/{group}/settlements", asha))["settlements"]
    assert settlement["creatorDisplayName"] == "Asha"
    assert settlement["payerDisplayName"] == roster[settlement["payer"].removeprefix("users/")]


def test_currencies_give_exponent_symbol_and_name_in_the_language_asked(api: Api) -> None:
    user = api.sign_in()
    listed = {c["currencyCode"]: c for c in ok(api.call("GET", "/v1/currencies", user))["currencies"]}
    inr = listed["INR"]
    assert (inr["exponent"], inr["symbol"], inr["displayName"]) == (2, "₹", "Indian Rupee")
    # The gateway may leave out a zero, as proto3 JSON allows.
    assert listed["JPY"].get("exponent", 0) == 0
    assert listed["KWD"]["exponent"] == listed["BHD"]["exponent"] == 3
    hindi = ok(api.call("GET", "/v1/currencies?locale=hi-IN", user))["currencies"]
    assert next(c for c in hindi if c["currencyCode"] == "INR")["displayName"] == "भारतीय रुपया"
    bad = api.call("GET", "/v1/currencies?locale=not a tag", user)
    assert bad.status_code == 400 and "locale" in bad.text
