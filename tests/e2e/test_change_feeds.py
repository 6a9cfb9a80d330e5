"""The offline change feeds over REST through Envoy: expenses with comments, settlements, and
groups with their members. A client syncs from an empty cursor, another member changes
things, the client resumes from its cursors and sees exactly the current state of what
changed (tombstones for what went), and once removed it is told to drop the group."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.support import Api, Session, random_phone

pytestmark = pytest.mark.e2e

Changes = list[dict[str, Any]]
FEEDS = ("expenseChanges", "settlementChanges", "groupChanges")


def u(session: Session) -> str:
    return f"users/{session.user_id}"


def _ok(resp: httpx.Response) -> dict[str, Any]:
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def error_field(resp: httpx.Response) -> str:
    for detail in resp.json().get("details", []):
        if detail["@type"].endswith("google.rpc.ErrorInfo"):
            return str(detail.get("metadata", {}).get("field", ""))
    return ""


@dataclass
class Feed:
    """One feed as a phone keeps it: the cursor between syncs."""

    api: Api
    session: Session
    path: str
    cursor: str = ""
    pages: list[dict[str, Any]] = field(default_factory=list)

    def drain(self, page_size: int = 200) -> tuple[Changes, str]:
        """Every change since the stored cursor, following has_more; the cursor after them."""
        changes: Changes = []
        cursor = self.cursor
        while True:
            params = {"pageSize": str(page_size)}
            if cursor:
                params["cursor"] = cursor
            page = _ok(self.api.call("GET", self.path, self.session, params=params))
            assert page["nextCursor"], page
            changes += page.get("changes", [])
            cursor = page["nextCursor"]
            if not page.get("hasMore", False):
                return changes, cursor

    def until(self, ready: Callable[[Changes], bool], page_size: int = 200) -> Changes:
        """Sync until `ready` holds, then keep the new cursor. The feed hands out a write once
        every transaction that began before it has ended, so it can trail for a moment."""
        deadline = time.monotonic() + 20
        changes, cursor = self.drain(page_size)
        while not ready(changes) and time.monotonic() < deadline:
            time.sleep(0.1)
            changes, cursor = self.drain(page_size)
        assert ready(changes), changes
        self.cursor = cursor
        return changes


def _subject(change: dict[str, Any]) -> str:
    for key in ("expense", "comment", "settlement", "group", "member"):
        if key in change:
            return str(change[key]["name"])
    return str(change["removed"])


def _names(changes: Changes) -> list[str]:
    return [_subject(c) for c in changes]


def _has(*names: str) -> Callable[[Changes], bool]:
    return lambda changes: set(names) <= set(_names(changes))


def test_feeds_sync_resume_and_revoke(api: Api) -> None:
    asha, ravi = api.sign_in(), api.sign_in()
    group = _ok(api.call("POST", "/v1/groups", asha, json={"displayName": "Flat 4B", "kind": "HOME"}))
    name = group["name"]
    _ok(api.call("POST", f"/v1/{name}/members", asha, json={"user": u(ravi), "role": "OWNER"}))
    expense = _ok(
        api.call(
            "POST",
            f"/v1/{name}/expenses",
            asha,
            json={
                "description": "Groceries",
                "transactionDate": {"year": 2026, "month": 3, "day": 2},
                "total": {"currencyCode": "INR", "amountMinor": "10000"},
                "payers": [{"user": u(asha), "paidMinor": "10000"}],
                "split": {"equal": {"participants": [u(asha), u(ravi)]}},
            },
        )
    )

    # Asha's phone syncs everything from empty cursors: all groups, and this group alone.
    everywhere = {f: Feed(api, asha, f"/v1/groups/-/{f}") for f in FEEDS}
    here = {f: Feed(api, asha, f"/v1/{name}/{f}") for f in FEEDS}
    ravi_member, asha_member = f"{name}/members/{ravi.user_id}", f"{name}/members/{asha.user_id}"
    for feeds in (everywhere, here):
        first = feeds["expenseChanges"].until(_has(expense["name"]))
        assert [c["changeType"] for c in first] == ["CREATED"]
        assert feeds["settlementChanges"].until(lambda changes: True) == []
        synced = feeds["groupChanges"].until(_has(name, ravi_member, asha_member))
        assert sorted(_names(synced)) == sorted([name, ravi_member, asha_member])
        by_name = {_subject(c): c for c in synced}
        assert by_name[ravi_member]["memberChange"] == "ADDED"
        assert by_name[ravi_member]["member"]["role"] == "OWNER"
        assert by_name[name]["group"]["memberCount"] == 2

    # Ravi, on his phone, changes things.
    paid = _ok(
        api.call(
            "POST",
            f"/v1/{name}/settlements",
            ravi,
            json={
                "payer": u(ravi),
                "payee": u(asha),
                "amount": {"currencyCode": "INR", "amountMinor": "5000"},
            },
        )
    )
    gone = _ok(api.call("DELETE", f"/v1/{paid['name']}", ravi))
    back = _ok(api.call("POST", f"/v1/{paid['name']}:undelete", ravi, json={"etag": gone["etag"]}))
    wrong = _ok(
        api.call(
            "POST",
            f"/v1/{name}/settlements",
            ravi,
            json={
                "payer": u(ravi),
                "payee": u(asha),
                "amount": {"currencyCode": "INR", "amountMinor": "700"},
            },
        )
    )
    _ok(api.call("DELETE", f"/v1/{wrong['name']}", ravi))
    typo = _ok(api.call("POST", f"/v1/{expense['name']}/comments", ravi, json={"text": "Paid?"}))
    _ok(api.call("DELETE", f"/v1/{typo['name']}", ravi))
    said = _ok(api.call("POST", f"/v1/{expense['name']}/comments", ravi, json={"text": "Paid in cash"}))
    guest = _ok(
        api.call(
            "POST", f"/v1/{name}/members", ravi, json={"phoneNumber": random_phone(), "displayName": "Guest"}
        )
    )
    _ok(api.call("DELETE", f"/v1/{guest['name']}", ravi))
    current = _ok(api.call("GET", f"/v1/{name}", ravi))
    renamed = _ok(
        api.call(
            "PATCH",
            f"/v1/{name}?updateMask=displayName",
            ravi,
            json={"displayName": "Flat 4B (2026)", "etag": current["etag"]},
        )
    )
    archived = _ok(api.call("POST", f"/v1/{name}:archive", ravi, json={"etag": renamed["etag"]}))

    for feeds in (everywhere, here):
        settlements = feeds["settlementChanges"].until(_has(paid["name"], wrong["name"]))
        # Each settlement once, as it is now: the restored one whole, the deleted one a tombstone.
        assert [(c["changeType"], _subject(c)) for c in settlements] == [
            ("RESTORED", paid["name"]),
            ("DELETED", wrong["name"]),
        ]
        assert settlements[0]["settlement"]["etag"] == back["etag"]
        assert settlements[0]["settlement"]["deleted"] is False
        assert "settlement" not in settlements[1]

        expenses = feeds["expenseChanges"].until(_has(typo["name"], said["name"]))
        comments = [(c["changeType"], _subject(c)) for c in expenses if "/comments/" in _subject(c)]
        assert comments == [("DELETED", typo["name"]), ("CREATED", said["name"])]
        shown = next(c["comment"] for c in expenses if "comment" in c)
        assert shown["text"] == "Paid in cash" and shown["author"] == u(ravi)
        # The expense comes again too: its comment count is part of what a client caches.
        assert {_subject(c) for c in expenses} == {expense["name"], typo["name"], said["name"]}
        resent = next(c for c in expenses if "expense" in c)
        assert resent["expense"]["commentCount"] == 1 and resent["changeType"] == "UPDATED"

        groups = feeds["groupChanges"].until(
            lambda changes: any(c.get("changeType") == "ARCHIVED" for c in changes)
        )
        unset = "MEMBER_CHANGE_UNSPECIFIED"
        assert [(c["changeType"], _subject(c), c.get("memberChange", unset)) for c in groups] == [
            ("DELETED", guest["name"], "REMOVED"),
            ("ARCHIVED", name, unset),
        ]
        assert groups[1]["group"]["displayName"] == "Flat 4B (2026)"
        assert groups[1]["group"]["archived"] is True and groups[1]["group"]["etag"] == archived["etag"]

    # Ravi removes Asha (her balance is settled by the restored payment).
    _ok(api.call("DELETE", f"/v1/{asha_member}", ravi))
    for feeds in (everywhere, here):
        for feed in feeds.values():
            revoked = feed.until(lambda changes: any(c["changeType"] == "ACCESS_REVOKED" for c in changes))
            assert [(c["changeType"], c["removed"]) for c in revoked] == [("ACCESS_REVOKED", name)]
            # Said once: the next sync from the new cursor has nothing about the group.
            again, _ = feed.drain()
            assert again == []
    # Without a cursor the group's feeds are as closed to her as the group.
    for f in FEEDS:
        assert api.call("GET", f"/v1/{name}/{f}", asha).status_code == 404


def test_feeds_refuse_bad_requests_naming_the_field(api: Api) -> None:
    asha, stranger = api.sign_in(), api.sign_in()
    name = _ok(api.call("POST", "/v1/groups", asha, json={"displayName": "Trip", "kind": "TRIP"}))["name"]
    for f in FEEDS:
        path = f"/v1/{name}/{f}"
        cursor = _ok(api.call("GET", path, asha))["nextCursor"]
        for params, wanted in (
            ({"cursor": "not-a-cursor"}, "cursor"),
            ({"cursor": cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB")}, "cursor"),
            ({"pageSize": "501"}, "pageSize"),
            ({"pageSize": "-1"}, "pageSize"),
        ):
            resp = api.call("GET", path, asha, params=params)
            assert resp.status_code == 400 and error_field(resp) == wanted, (f, params, resp.text)
        # A cursor is for its own feed and caller only.
        other_feed = api.call("GET", f"/v1/groups/-/{f}", asha, params={"cursor": cursor})
        assert other_feed.status_code == 400 and error_field(other_feed) == "cursor"
        other_caller = api.call("GET", path, stranger, params={"cursor": cursor})
        assert other_caller.status_code == 400 and error_field(other_caller) == "cursor"
        assert api.call("GET", path, stranger).status_code == 404
        assert api.call("GET", f"/v1/groups/not-a-group/{f}", asha).status_code in (400, 404)
        # Cursors of different feeds are not interchangeable either.
        for g in FEEDS:
            if g != f:
                crossed = api.call("GET", f"/v1/{name}/{g}", asha, params={"cursor": cursor})
                assert crossed.status_code == 400 and error_field(crossed) == "cursor"


def _expense_body(payer: Session, other_user: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "transactionDate": {"year": 2026, "month": 4, "day": 1},
        "total": {"currencyCode": "INR", "amountMinor": "2000"},
        "payers": [{"user": u(payer), "paidMinor": "2000"}],
        "split": {"equal": {"participants": [u(payer), other_user]}},
    }


def _group_with_history(api: Api, owner: Session, title: str) -> tuple[str, str, str]:
    """A group with a placeholder member, an expense and a settlement: (group, expense, settlement)."""
    name = _ok(api.call("POST", "/v1/groups", owner, json={"displayName": title, "kind": "TRIP"}))["name"]
    invite = {"phoneNumber": random_phone(), "displayName": "Kabir"}
    friend = _ok(api.call("POST", f"/v1/{name}/members", owner, json=invite))["user"]
    expense = _ok(api.call("POST", f"/v1/{name}/expenses", owner, json=_expense_body(owner, friend, title)))
    paid = _ok(
        api.call(
            "POST",
            f"/v1/{name}/settlements",
            owner,
            json={
                "payer": friend,
                "payee": u(owner),
                "amount": {"currencyCode": "INR", "amountMinor": "500"},
            },
        )
    )
    return name, expense["name"], paid["name"]


def test_a_group_joined_later_comes_with_its_history(api: Api) -> None:
    asha, ravi = api.sign_in(), api.sign_in()
    # Ravi's group and what happened in it are older than anything Asha's phone will hold.
    theirs, old_expense, old_payment = _group_with_history(api, ravi, "Ravi's trip")
    mine, my_expense, my_payment = _group_with_history(api, asha, "Asha's trip")
    feeds = {f: Feed(api, asha, f"/v1/groups/-/{f}") for f in FEEDS}
    feeds["expenseChanges"].until(_has(my_expense))
    feeds["settlementChanges"].until(_has(my_payment))
    feeds["groupChanges"].until(_has(mine))

    _ok(api.call("POST", f"/v1/{theirs}/members", ravi, json={"user": u(asha)}))
    expenses = feeds["expenseChanges"].until(_has(old_expense))
    assert _names(expenses) == [old_expense]
    settlements = feeds["settlementChanges"].until(_has(old_payment))
    assert _names(settlements) == [old_payment]
    groups = feeds["groupChanges"].until(_has(theirs, f"{theirs}/members/{asha.user_id}"))
    # The group and all three of its members (Ravi, his placeholder friend and Asha).
    assert [c["group"]["name"] for c in groups if "group" in c] == [theirs]
    members = [c["member"]["name"] for c in groups if "member" in c]
    assert len(groups) == 4 and len(members) == 3 and all(m.startswith(f"{theirs}/") for m in members)
    assert {f"{theirs}/members/{ravi.user_id}", f"{theirs}/members/{asha.user_id}"} <= set(members)
