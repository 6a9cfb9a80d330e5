"""Settle-up over REST through Envoy: record, retry, delete/restore, UPI links, leaving a group."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import pytest
from sqlalchemy import text

from libs.db.database import Database
from libs.ledger import store
from libs.ledger.postings import Posting
from tests.support import Api, Session

pytestmark = [pytest.mark.e2e, pytest.mark.clock]


@pytest.fixture(scope="module")
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url, pool_size=2)
    yield database
    await database.close()


def _reason(resp: httpx.Response) -> str:
    for detail in resp.json().get("details", []):
        if detail["@type"].endswith("google.rpc.ErrorInfo"):
            return str(detail["reason"])
    return ""


def _field(resp: httpx.Response) -> str:
    for detail in resp.json().get("details", []):
        if detail["@type"].endswith("google.rpc.ErrorInfo"):
            return str(detail.get("metadata", {}).get("field", ""))
    return ""


async def _expense(db: Database, group: str, payer: str, others: list[str], each: int) -> None:
    """The payer paid for everyone; each of `others` owes `each` (the payer's own share is `each` too)."""
    postings = {payer: Posting(each * (len(others) + 1), each)} | {u: Posting(0, each) for u in others}
    async with db.transaction() as conn:
        await store.record(
            conn,
            group_id=group.removeprefix("groups/"),
            kind="expense",
            currency="INR",
            total_minor=each * (len(others) + 1),
            postings=postings,
        )


def _trip(api: Api, owner: Session, *members: Session) -> str:
    group = api.call("POST", "/v1/groups", owner, json={"displayName": "Goa trip", "kind": "TRIP"}).json()[
        "name"
    ]
    for m in members:
        added = api.call("POST", f"/v1/{group}/members", owner, json={"user": f"users/{m.user_id}"})
        assert added.status_code == 200, added.text
    return str(group)


def _net(api: Api, who: Session, group: str, user: Session) -> int:
    got = api.call("GET", f"/v1/{group}/balances?currencyCode=INR", who).json()
    for m in got["members"]:
        if m["user"] == f"users/{user.user_id}":
            return sum(int(n["amountMinor"]) for n in m["net"])
    raise AssertionError(f"{user.user_id} is not listed")


def _payment(payer: Session, payee: Session, amount: int, **extra: Any) -> dict[str, Any]:
    return {
        "payer": f"users/{payer.user_id}",
        "payee": f"users/{payee.user_id}",
        "amount": {"currencyCode": "INR", "amountMinor": str(amount)},
        **extra,
    }


async def test_settle_up_journey(api: Api, db: Database) -> None:
    asha, ravi, meera = api.sign_in(), api.sign_in(), api.sign_in()
    group = _trip(api, asha, ravi, meera)
    await _expense(db, group, asha.user_id, [ravi.user_id, meera.user_id], 45000)
    assert _net(api, asha, group, ravi) == -45000

    # Not settled: Ravi cannot leave and cannot be removed.
    leave = api.call("POST", f"/v1/{group}:leave", ravi, json={})
    assert leave.status_code == 400 and _reason(leave) == "BALANCE_NOT_SETTLED", leave.text
    remove = api.call("DELETE", f"/v1/{group}/members/{ravi.user_id}", asha)
    assert remove.status_code == 400 and _reason(remove) == "BALANCE_NOT_SETTLED"

    # Ravi pays Asha back; a retry with the same request_id records nothing twice.
    rid = str(uuid.uuid4())
    body = _payment(
        ravi, asha, 45000, note="Goa", method="UPI", transactionDate={"year": 2025, "month": 1, "day": 5}
    )
    first = api.call("POST", f"/v1/{group}/settlements?requestId={rid}", ravi, json=body)
    assert first.status_code == 200, first.text
    again = api.call("POST", f"/v1/{group}/settlements?requestId={rid}", ravi, json=body)
    assert again.json() == first.json()
    reused = api.call("POST", f"/v1/{group}/settlements?requestId={rid}", ravi, json={**body, "note": "x"})
    assert reused.status_code == 409 and _reason(reused) == "REQUEST_ID_REUSED"
    settlement = first.json()
    assert settlement["payer"] == f"users/{ravi.user_id}" and settlement["creator"] == f"users/{ravi.user_id}"
    assert settlement["amount"] == {"currencyCode": "INR", "amountMinor": "45000"}
    assert (
        settlement["transactionDate"] == {"year": 2025, "month": 1, "day": 5}
        and settlement["method"] == "UPI"
    )
    assert _net(api, asha, group, ravi) == 0
    assert _net(api, asha, group, asha) == 45000

    async with db.transaction() as conn:
        events = (
            await conn.execute(
                text("SELECT event_type FROM kit.outbox WHERE aggregate = :a"), {"a": settlement["name"]}
            )
        ).all()
    assert [e.event_type for e in events] == ["settlement.recorded"]

    name = settlement["name"]
    assert api.call("GET", f"/v1/{name}", meera).json() == settlement
    listed = api.call("GET", f"/v1/{group}/settlements?user=users/{asha.user_id}", meera).json()
    assert [s["name"] for s in listed["settlements"]] == [name]
    assert (
        api.call("GET", f"/v1/{group}/settlements?user=users/{meera.user_id}", meera).json()["settlements"]
        == []
    )

    # Delete reverses the payment (stale etag refused), undelete posts it again.
    stale = api.call("DELETE", f"/v1/{name}?etag=W/%22nope%22", asha)
    assert stale.status_code == 409 and _reason(stale) == "ETAG_MISMATCH"
    deleted = api.call("DELETE", f"/v1/{name}?etag={settlement['etag']}", asha)
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["deleted"] is True and "deleteTime" in deleted.json()
    assert _net(api, asha, group, ravi) == -45000
    assert (
        api.call("DELETE", f"/v1/{name}", asha).json()["etag"] == deleted.json()["etag"]
    )  # no second reversal
    assert _net(api, asha, group, ravi) == -45000
    assert api.call("GET", f"/v1/{group}/settlements", asha).json()["settlements"] == []
    shown = api.call("GET", f"/v1/{group}/settlements?showDeleted=true", asha).json()["settlements"]
    assert [s["deleted"] for s in shown] == [True]
    restored = api.call("POST", f"/v1/{name}:undelete", asha, json={"etag": deleted.json()["etag"]})
    assert restored.status_code == 200 and restored.json()["deleted"] is False
    assert _net(api, asha, group, ravi) == 0

    # Settled now: Ravi may leave. Meera settles in two payments, then is removed.
    assert api.call("POST", f"/v1/{group}:leave", ravi, json={}).status_code == 200
    for part in (20000, 25000):
        paid = api.call("POST", f"/v1/{group}/settlements", meera, json=_payment(meera, asha, part))
        assert paid.status_code == 200, paid.text
    assert api.call("DELETE", f"/v1/{group}/members/{meera.user_id}", asha).status_code == 200

    # Newest transactionDate first (today's two before January's), and pages chain.
    page1 = api.call("GET", f"/v1/{group}/settlements?pageSize=2", asha).json()
    page2 = api.call(
        "GET", f"/v1/{group}/settlements?pageSize=2&pageToken={page1['nextPageToken']}", asha
    ).json()
    assert [s["name"] for s in page2["settlements"]] == [name] and page2["nextPageToken"] == ""
    assert all(
        s["transactionDate"]["year"] > 2025 or s["transactionDate"]["month"] > 1 for s in page1["settlements"]
    )

    balances = api.call("GET", f"/v1/{group}/balances", asha).json()["members"]
    assert [m["net"] for m in balances] == [[]]
    assert api.call("GET", f"/v1/{group}/debts", asha).json()["transfers"] == []


async def test_bad_settlements_are_refused_and_write_nothing(api: Api, db: Database) -> None:
    asha, ravi = api.sign_in(), api.sign_in()
    group = _trip(api, asha, ravi)
    await _expense(db, group, asha.user_id, [ravi.user_id], 1000)
    stranger = api.sign_in()
    cases = [
        (_payment(stranger, asha, 100), "settlement.payer"),
        (_payment(ravi, stranger, 100), "settlement.payee"),
        (_payment(ravi, ravi, 100), "settlement.payee"),
        (_payment(ravi, asha, 0), "settlement.amount.amountMinor"),
        (_payment(ravi, asha, -5), "settlement.amount.amountMinor"),
        (
            {**_payment(ravi, asha, 100), "amount": {"currencyCode": "ABC", "amountMinor": "1"}},
            "settlement.amount.currencyCode",
        ),
        ({**_payment(ravi, asha, 100), "note": "n" * 501}, "settlement.note"),
        (
            {**_payment(ravi, asha, 100), "transactionDate": {"year": 2025, "month": 2, "day": 30}},
            "settlement.transactionDate",
        ),
        ({**_payment(ravi, asha, 100), "payer": "ravi"}, "settlement.payer"),
    ]
    for body, field in cases:
        refused = api.call("POST", f"/v1/{group}/settlements", ravi, json=body)
        assert refused.status_code == 400, (field, refused.text)
        assert _reason(refused) == "INVALID_FIELD" and _field(refused) == field, refused.text
    outsider = api.call("POST", f"/v1/{group}/settlements", stranger, json=_payment(ravi, asha, 100))
    assert outsider.status_code == 404
    assert api.call("GET", f"/v1/{group}/settlements?showDeleted=true", asha).json()["settlements"] == []
    assert _net(api, asha, group, ravi) == -1000
    missing = api.call("GET", f"/v1/{group}/settlements/{uuid.uuid4()}", asha)
    assert missing.status_code == 404 and _reason(missing) == "RESOURCE_NOT_FOUND"


def test_upi_link_for_a_suggested_transfer(api: Api) -> None:
    asha, ravi = api.sign_in(), api.sign_in()
    group = _trip(api, asha, ravi)
    url = f"/v1/{group}:upiPaymentLink"
    query = {"payee": f"users/{asha.user_id}", "amount.currencyCode": "INR", "amount.amountMinor": "123405"}

    no_vpa = api.call("GET", url, ravi, params=query)
    assert no_vpa.status_code == 400 and _reason(no_vpa) == "FAILED_PRECONDITION"
    assert "UPI address" in no_vpa.json()["message"] and "upiVpa" in no_vpa.json()["message"]

    updated = api.call(
        "PATCH",
        "/v1/users/me?updateMask=upiVpa,displayName",
        asha,
        json={"upiVpa": "asha.k@okbank", "displayName": "Asha K"},
    )
    assert updated.status_code == 200, updated.text
    # %20, not "+": the gateway takes "+" in a query literally
    link = api.call("GET", f"{url}?{urlencode({**query, 'note': 'Goa trip & fuel'}, quote_via=quote)}", ravi)
    assert link.status_code == 200, link.text
    assert link.json() == {
        "uri": "upi://pay?pa=asha.k@okbank&pn=Asha%20K&am=1234.05&cu=INR&tn=Goa%20trip%20%26%20fuel",
        "qrPayload": "upi://pay?pa=asha.k@okbank&pn=Asha%20K&am=1234.05&cu=INR&tn=Goa%20trip%20%26%20fuel",
        "payeeVpa": "asha.k@okbank",
        "payeeDisplayName": "Asha K",
    }

    usd = api.call("GET", url, ravi, params={**query, "amount.currencyCode": "USD"})
    assert (
        usd.status_code == 400
        and _field(usd) == "amount.currencyCode"
        and "INR only" in usd.json()["message"]
    )
    stranger = api.sign_in()
    not_member = api.call("GET", url, ravi, params={**query, "payee": f"users/{stranger.user_id}"})
    assert not_member.status_code == 400 and _field(not_member) == "payee"
    assert api.call("GET", url, stranger, params=query).status_code == 404
    long_note = api.call("GET", url, ravi, params={**query, "note": "x" * 51})
    assert long_note.status_code == 400 and _field(long_note) == "note"
