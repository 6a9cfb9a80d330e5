"""The group feed through the gateway: payments, members and the group itself, not only expenses.

These entries come from the settlement and group services' events, through the outbox
relay, SNS and the activity queue to expense-service's activity worker, so the test
waits for them to appear.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.support import Api, Session, feed_until, random_phone

pytestmark = pytest.mark.e2e

# Large enough to be grouped: lakhs in the default locale (en-IN), thousands in en-US.
AMOUNT = 12345678


def ok(resp: Any) -> Any:
    assert resp.status_code == 200, resp.text
    return resp.json()


def _named(api: Api, name: str) -> tuple[Session, str]:
    session = api.sign_in()
    shown = f"{name} {uuid.uuid4().hex[:4]}"
    ok(api.call("PATCH", "/v1/users/me?updateMask=displayName", session, json={"displayName": shown}))
    return session, shown


def _payment(payer: Session, payee: Session, amount: int) -> dict[str, Any]:
    return {
        "payer": f"users/{payer.user_id}",
        "payee": f"users/{payee.user_id}",
        "amount": {"currencyCode": "INR", "amountMinor": str(amount)},
    }


def test_payments_members_and_renames_reach_the_feed(api: Api) -> None:
    (asha, a), (ravi, r) = _named(api, "Asha"), _named(api, "Ravi")
    group = ok(api.call("POST", "/v1/groups", asha, json={"displayName": "Trip", "kind": "TRIP"}))
    gname = group["name"]

    meera_name = f"Meera {uuid.uuid4().hex[:4]}"
    meera = ok(
        api.call(
            "POST",
            f"/v1/{gname}/members",
            asha,
            json={"phoneNumber": random_phone(), "displayName": meera_name},
        )
    )["user"].removeprefix("users/")
    link = ok(api.call("POST", f"/v1/{gname}/inviteLinks", asha, json={}))
    ok(api.call("POST", "/v1/groups:join", ravi, json={"token": link["token"]}))

    paid = ok(api.call("POST", f"/v1/{gname}/settlements", asha, json=_payment(asha, ravi, AMOUNT)))
    deleted = ok(api.call("DELETE", f"/v1/{paid['name']}?etag={paid['etag']}", asha))
    ok(api.call("POST", f"/v1/{paid['name']}:undelete", asha, json={"etag": deleted["etag"]}))
    # Ravi pays it back, so his balance is zero and he may leave.
    back = ok(api.call("POST", f"/v1/{gname}/settlements", ravi, json=_payment(ravi, asha, AMOUNT)))
    ok(api.call("POST", f"/v1/{gname}:leave", ravi, json={}))
    ok(api.call("DELETE", f"/v1/{gname}/members/{meera}", asha))
    current = ok(api.call("GET", f"/v1/{gname}", asha))
    ok(
        api.call(
            "PATCH",
            f"/v1/{gname}?updateMask=displayName",
            asha,
            json={"displayName": "Goa", "etag": current["etag"]},
        )
    )

    expected = [
        ("CREATED", asha, a, gname, "created the group “Trip”"),
        ("MEMBER_INVITED", asha, a, f"{gname}/members/{meera}", f"added {meera_name}"),
        ("MEMBER_JOINED", ravi, r, f"{gname}/members/{ravi.user_id}", "joined the group"),
        ("SETTLED", asha, a, paid["name"], f"recorded a payment of ₹1,23,456.78 to {r}"),
        ("DELETED", asha, a, paid["name"], f"deleted a payment of ₹1,23,456.78 to {r}"),
        ("RESTORED", asha, a, paid["name"], f"restored a payment of ₹1,23,456.78 to {r}"),
        ("SETTLED", ravi, r, back["name"], f"recorded a payment of ₹1,23,456.78 to {a}"),
        ("MEMBER_LEFT", ravi, r, f"{gname}/members/{ravi.user_id}", "left the group"),
        ("MEMBER_REMOVED", asha, a, f"{gname}/members/{meera}", f"removed {meera_name}"),
        ("GROUP_UPDATED", asha, a, gname, "renamed the group to “Goa”"),
    ]
    feed = feed_until(api, asha, gname, lambda f: len(f) >= len(expected))
    shown = sorted((x["verb"], x["actor"], x["actorDisplayName"], x["subject"], x["summary"]) for x in feed)
    assert shown == sorted(
        (verb, f"users/{who.user_id}", name, subject, f"{name} {said}")
        for verb, who, name, subject, said in expected
    )

    # Each entry is the name of a feed entry, and money entries say how they moved Asha.
    assert all(x["name"].startswith(f"{gname}/activities/") for x in feed)
    by_key = {(x["verb"], x["subject"]): x for x in feed}
    recorded = by_key[("SETTLED", paid["name"])]
    assert recorded["amount"] == {"currencyCode": "INR", "amountMinor": str(AMOUNT)}
    assert recorded["callerEffect"] == {"currencyCode": "INR", "amountMinor": str(AMOUNT)}
    assert by_key[("DELETED", paid["name"])]["callerEffect"]["amountMinor"] == str(-AMOUNT)
    assert by_key[("SETTLED", back["name"])]["callerEffect"]["amountMinor"] == str(-AMOUNT)
    assert "callerEffect" not in by_key[("MEMBER_JOINED", f"{gname}/members/{ravi.user_id}")]

    # Amounts are worded in the reader's locale.
    ok(api.call("PATCH", "/v1/users/me?updateMask=locale", asha, json={"locale": "en-US"}))
    again = {(x["verb"], x["subject"]): x["summary"] for x in feed_until(api, asha, gname, lambda f: True)}
    assert again[("SETTLED", paid["name"])] == f"{a} recorded a payment of ₹123,456.78 to {r}"

    # And in the reader's language: a Hindi reader gets Hindi sentences, Indian grouping.
    ok(api.call("PATCH", "/v1/users/me?updateMask=locale", asha, json={"locale": "hi-IN"}))
    hindi = {(x["verb"], x["subject"]): x["summary"] for x in feed_until(api, asha, gname, lambda f: True)}
    assert hindi[("SETTLED", paid["name"])] == f"{a} ने {r} को ₹1,23,456.78 का भुगतान दर्ज किया"
