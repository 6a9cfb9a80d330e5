"""Membership as the ledger services see it: from the roster group-service publishes to
Valkey, so a change is in force on the very next request, and a late, older publish
never brings a removed member back."""

from __future__ import annotations

from datetime import date

import pytest
import redis.asyncio as redis

from libs.clients.rosters import Roster, RosterCache
from tests.support import Api, Session, paid_by_one, random_phone
from tools.devstack.stack import Stack

pytestmark = pytest.mark.e2e


def _expense(payer: str, participants: list[str]) -> dict[str, object]:
    return paid_by_one(payer, participants, 3000, description="Chai", day=date(2026, 11, 20))


def _group(api: Api, owner: Session) -> str:
    made = api.call("POST", "/v1/groups", owner, json={"displayName": "Flat 4B", "kind": "HOME"})
    assert made.status_code == 200, made.text
    return str(made.json()["name"])


async def test_membership_changes_apply_on_the_next_request(api: Api, stack: Stack) -> None:
    assert stack.valkey is not None
    rosters = RosterCache.from_url(stack.valkey.url)
    owner, friend = api.sign_in(), api.sign_in()
    group = _group(api, owner)
    group_id = group.removeprefix("groups/")

    # Not a member yet: told the group does not exist, and cannot be named in an expense.
    assert api.call("GET", f"/v1/{group}/balances", friend).status_code == 404
    named = api.call("POST", f"/v1/{group}/expenses", owner, json=_expense(owner.user_id, [friend.user_id]))
    assert named.status_code == 400 and "is not a member" in named.text, named.text

    added = api.call("POST", f"/v1/{group}/members", owner, json={"phoneNumber": friend.phone})
    assert added.status_code == 200, added.text
    cached = await rosters.cached(group_id)
    assert cached is not None and set(cached.names) == {owner.user_id, friend.user_id}
    before_leaving = cached

    # In force at once, through the cache.
    assert api.call("GET", f"/v1/{group}/balances", friend).status_code == 200
    both = api.call(
        "POST", f"/v1/{group}/expenses", owner, json=_expense(owner.user_id, [owner.user_id, friend.user_id])
    )
    assert both.status_code == 200, both.text
    deleted = api.call("DELETE", f"/v1/{both.json()['name']}", owner)
    assert deleted.status_code == 200, deleted.text  # back to zero: the friend may leave

    assert api.call("POST", f"/v1/{group}:leave", friend, json={}).status_code == 200
    assert api.call("GET", f"/v1/{group}/balances", friend).status_code == 404
    gone = api.call(
        "POST", f"/v1/{group}/expenses", owner, json=_expense(owner.user_id, [owner.user_id, friend.user_id])
    )
    assert gone.status_code == 400 and "is not a member" in gone.text, gone.text

    # A publish that read the group before the friend left arrives late: Valkey keeps the newer roster.
    await rosters.publish(before_leaving)
    after = await rosters.cached(group_id)
    assert after is not None and after.version > before_leaving.version
    assert friend.user_id not in after.names
    assert api.call("GET", f"/v1/{group}/balances", friend).status_code == 404
    await rosters.close()


async def test_without_valkey_membership_comes_from_group_service(api: Api, stack: Stack) -> None:
    assert stack.valkey is not None
    owner, outsider = api.sign_in(), api.sign_in()
    group = _group(api, owner)
    member = api.call("POST", f"/v1/{group}/members", owner, json={"phoneNumber": random_phone()})
    assert member.status_code == 200, member.text
    member_id = member.json()["user"].removeprefix("users/")

    stack.valkey.stop()
    try:
        assert api.call("GET", f"/v1/{group}/balances", owner).status_code == 200
        assert api.call("GET", f"/v1/{group}/balances", outsider).status_code == 404
        made = api.call(
            "POST", f"/v1/{group}/expenses", owner, json=_expense(owner.user_id, [owner.user_id, member_id])
        )
        assert made.status_code == 200, made.text
        refused = api.call(
            "POST", f"/v1/{group}/expenses", owner, json=_expense(owner.user_id, [outsider.user_id])
        )
        assert refused.status_code == 400 and "is not a member" in refused.text, refused.text
    finally:
        stack.valkey.start()


async def test_a_roster_for_another_group_or_garbage_is_a_miss(stack: Stack) -> None:
    assert stack.valkey is not None
    rosters = RosterCache.from_url(stack.valkey.url)
    mine = Roster(
        group_id="00000000-0000-4000-8000-000000000001", kind="trip", version=3, names={"u1": "Asha"}
    )
    await rosters.publish(mine)
    assert await rosters.cached(mine.group_id) == mine

    # Older versions never replace it; the same or newer do.
    await rosters.publish(Roster(mine.group_id, "trip", 2, {"u1": "Asha", "u2": "Ravi"}))
    assert await rosters.cached(mine.group_id) == mine
    renamed = Roster(mine.group_id, "trip", 3, {"u1": "Asha K"})
    await rosters.publish(renamed)
    assert await rosters.cached(mine.group_id) == renamed

    raw = redis.Redis.from_url(stack.valkey.url)
    other = "00000000-0000-4000-8000-000000000002"
    await raw.set(
        f"roster:{other}", b"4|" + mine.to_proto().SerializeToString()
    )  # labelled for another group
    assert await rosters.cached(other) is None
    await raw.set(f"roster:{other}", b"5|not a roster")
    assert await rosters.cached(other) is None
    await raw.set(f"roster:{other}", b"no version")
    assert await rosters.cached(other) is None
    await raw.aclose()
    await rosters.close()
