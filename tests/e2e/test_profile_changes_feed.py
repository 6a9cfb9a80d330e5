"""A person's profile change reaches other members' offline copies through the group
change feed: a rename comes back as their member rows (and the friend ledger named after
them), an invited placeholder's first sign-in as their member row, now ACTIVE. The
change travels auth → outbox → events topic → group queue → group worker, so the client
polls its feed with a deadline until it sees it."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.e2e.test_change_feeds import Changes, Feed, _ok, _subject, u
from tests.support import Api, random_phone

pytestmark = pytest.mark.e2e


def _latest(changes: Changes) -> dict[str, dict[str, Any]]:
    """Each subject as the client holds it after applying the changes in order."""
    return {_subject(c): c for c in changes}


def _resume_until(feed: Feed, ready: Any, timeout: float = 60.0) -> Changes:
    """Resume from the stored cursor until ``ready`` holds for everything since it."""
    deadline = time.monotonic() + timeout
    while True:
        changes, cursor = feed.drain()
        if ready(_latest(changes)):
            feed.cursor = cursor
            return changes
        assert time.monotonic() < deadline, f"the feed never showed the profile change: {changes}"
        time.sleep(0.2)


def test_a_rename_and_a_first_sign_in_come_back_through_the_group_feed(api: Api) -> None:
    asha, ravi = api.sign_in(), api.sign_in()
    _ok(api.call("PATCH", "/v1/users/me?updateMask=displayName", ravi, json={"displayName": "Ravi"}))
    trip = _ok(api.call("POST", "/v1/groups", asha, json={"displayName": "Goa trip", "kind": "TRIP"}))["name"]
    _ok(api.call("POST", f"/v1/{trip}/members", asha, json={"user": u(ravi)}))
    kiran_phone = random_phone()
    kiran = _ok(
        api.call(
            "POST", f"/v1/{trip}/members", asha, json={"phoneNumber": kiran_phone, "displayName": "Kiran"}
        )
    )
    assert kiran["state"] == "INVITED"
    ledger = _ok(api.call("POST", "/v1/groups:openDirect", asha, json={"user": u(ravi)}))["name"]

    # Asha's phone syncs all her groups to the end.
    feed = Feed(api, asha, "/v1/groups/-/groupChanges")
    ravi_in_trip, ravi_in_ledger = f"{trip}/members/{ravi.user_id}", f"{ledger}/members/{ravi.user_id}"
    synced = _latest(
        feed.until(lambda changes: {trip, ledger, ravi_in_ledger, kiran["name"]} <= set(_latest(changes)))
    )
    assert synced[ravi_in_trip]["member"]["displayName"] == "Ravi"
    assert synced[ledger]["group"]["displayName"] == "Ravi"
    assert synced[kiran["name"]]["member"]["state"] == "INVITED"

    # Ravi renames himself on his phone; Kiran installs the app and signs in.
    _ok(api.call("PATCH", "/v1/users/me?updateMask=displayName", ravi, json={"displayName": "Ravi Kumar"}))
    kiran_session = api.sign_in(kiran_phone)
    assert f"users/{kiran_session.user_id}" == kiran["user"]

    def caught_up(held: dict[str, dict[str, Any]]) -> bool:
        def member(name: str) -> dict[str, Any]:
            return dict(held.get(name, {}).get("member", {}))

        return (
            member(ravi_in_trip).get("displayName") == "Ravi Kumar"
            and member(ravi_in_ledger).get("displayName") == "Ravi Kumar"
            and held.get(ledger, {}).get("group", {}).get("displayName") == "Ravi Kumar"
            and member(kiran["name"]).get("state") == "ACTIVE"
        )

    held = _latest(_resume_until(feed, caught_up))
    for name in (ravi_in_trip, ravi_in_ledger, kiran["name"]):
        assert held[name]["changeType"] == "UPDATED", held[name]
        assert held[name]["memberChange"] == "PROFILE_CHANGED", held[name]
    assert held[ledger]["changeType"] == "UPDATED"
    assert held[kiran["name"]]["member"].get("invitedPhoneNumber", "") == ""
    # Asha's own rows and the trip itself were not written again.
    assert f"{trip}/members/{asha.user_id}" not in held and trip not in held
