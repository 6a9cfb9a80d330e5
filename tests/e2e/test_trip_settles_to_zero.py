"""A whole trip over REST: five people, two currencies, several payers, an itemized bill,
an edit, a delete and restore, then settle-up along the simplified debts, with UPI links,
until every balance is exactly zero."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.e2e.test_expense_files import group_of
from tests.support import Api, Session

pytestmark = pytest.mark.e2e


def u(s: Session) -> str:
    return f"users/{s.user_id}"


def create(api: Api, who: Session, group: str, body: dict[str, Any]) -> dict[str, Any]:
    base = {"category": "TRAVEL", "transactionDate": {"year": 2026, "month": 12, "day": 1}}
    resp = api.call("POST", f"/v1/{group}/expenses", who, json={**base, **body})
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def money(currency: str, amount: int) -> dict[str, str]:
    return {"currencyCode": currency, "amountMinor": str(amount)}


def nets(api: Api, who: Session, group: str) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for member in api.call("GET", f"/v1/{group}/balances", who).json()["members"]:
        for net in member.get("net", []):
            out.setdefault(net["currencyCode"], {})[member["user"]] = int(net["amountMinor"])
    return out


def test_trip_ends_with_every_balance_zero(api: Api) -> None:
    people = [api.sign_in() for _ in range(5)]
    asha, ravi, meera, kabir, zoya = people
    api.buy_pro(asha)  # more than the free daily expenses for one person
    for who in people:
        api.call(
            "PATCH", "/v1/users/me?updateMask=upiVpa", who, json={"upiVpa": f"p{who.user_id[:8]}@okbank"}
        )
    group = group_of(api, asha, ravi, meera, kabir, zoya)
    everyone = [u(p) for p in people]

    create(
        api,
        asha,
        group,
        {
            "description": "Villa",
            "total": money("INR", 5_000_001),
            "payers": [{"user": u(asha), "paidMinor": "3000000"}, {"user": u(ravi), "paidMinor": "2000001"}],
            "split": {
                "shares": {
                    "entries": [
                        {"user": x, "shares": n} for x, n in zip(everyone, [2, 2, 1, 1, 1], strict=True)
                    ]
                }
            },
        },
    )
    dinner = create(
        api,
        meera,
        group,
        {
            "description": "Dinner",
            "total": money("INR", 10_650),
            "payers": [{"user": u(meera), "paidMinor": "10650"}],
            "split": {
                "itemized": {
                    "items": [
                        {"description": "Thali", "amountMinor": "4000", "participants": [u(asha), u(ravi)]},
                        {
                            "description": "Fish",
                            "amountMinor": "5000",
                            "participants": [u(meera), u(kabir), u(zoya)],
                        },
                    ],
                    "taxMinor": "1350",
                    "tipMinor": "500",
                    "discountMinor": "200",
                }
            },
        },
    )
    create(
        api,
        kabir,
        group,
        {
            "description": "Dive",
            "total": money("USD", 33_333),
            "payers": [{"user": u(kabir), "paidMinor": "33333"}],
            "split": {
                "percent": {
                    "entries": [
                        {"user": x, "basisPoints": bp} for x, bp in zip(everyone, [2000] * 5, strict=True)
                    ]
                }
            },
        },
    )
    taxi = create(
        api,
        zoya,
        group,
        {
            "description": "Taxi",
            "total": money("INR", 1_999),
            "payers": [{"user": u(zoya), "paidMinor": "1999"}],
            "split": {"equal": {"participants": everyone}},
        },
    )

    # One edit (the tip was higher), one delete and restore.
    edited = api.call(
        "PATCH",
        f"/v1/{dinner['name']}?updateMask=total,split",
        meera,
        json={
            "total": money("INR", 10_950),
            "split": {"itemized": {**dinner["split"]["itemized"], "tipMinor": "800"}},
            "etag": dinner["etag"],
        },
    )
    assert edited.status_code == 200, edited.text
    assert api.call("DELETE", f"/v1/{taxi['name']}", zoya).status_code == 200
    assert api.call("POST", f"/v1/{taxi['name']}:undelete", zoya, json={}).status_code == 200

    before = nets(api, asha, group)
    assert set(before) == {"INR", "USD"}
    for per_currency in before.values():
        assert sum(per_currency.values()) == 0

    # Settle along the simplified debts, paying INR debts through their UPI links.
    for currency in ("INR", "USD"):
        debts = api.call("GET", f"/v1/{group}/debts?currencyCode={currency}", asha).json()
        transfers = debts.get("transfers", [])
        assert 0 < len(transfers) <= len(before[currency]) - 1
        for t in transfers:
            payer = next(p for p in people if u(p) == t["payer"])
            if currency == "INR":
                link = api.call(
                    "GET",
                    f"/v1/{group}:upiPaymentLink",
                    payer,
                    params={
                        "payee": t["payee"],
                        "amount.currencyCode": "INR",
                        "amount.amountMinor": t["amount"]["amountMinor"],
                        "note": "Goa trip",
                    },
                )
                assert link.status_code == 200, link.text
                assert link.json()["uri"].startswith("upi://pay?pa=")
            paid = api.call(
                "POST",
                f"/v1/{group}/settlements?requestId={uuid.uuid4()}",
                payer,
                json={"payer": t["payer"], "payee": t["payee"], "amount": t["amount"], "method": "UPI"},
            )
            assert paid.status_code == 200, paid.text

    assert nets(api, asha, group) == {}
