"""Balances and simplified debts over REST through Envoy.

Ledger entries for the setup are written with libs.ledger.store on the stack's
database, as any ledger writer (expense-service) does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import pytest

from libs.db.database import Database
from libs.ledger import store
from libs.ledger.postings import Posting
from tests.support import Api, Session, random_phone
from tools.devstack.stack import Stack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url, pool_size=2)
    yield database
    await database.close()


async def record(db: Database, group: str, currency: str, nets: Mapping[str, int]) -> str:
    """One ledger entry with these nets: creditors paid their net, debtors owe theirs."""
    postings = {u: Posting(v, 0) if v > 0 else Posting(0, -v) for u, v in nets.items() if v}
    async with db.transaction() as conn:
        return await store.record(
            conn,
            group_id=group.removeprefix("groups/"),
            kind="expense",
            currency=currency,
            total_minor=sum(v for v in nets.values() if v > 0),
            postings=postings,
        )


def new_group(api: Api, owner: Session, names: list[str], title: str = "Goa trip") -> tuple[str, list[str]]:
    """A group of the owner plus placeholder members with these names; returns its name and user ids."""
    made = api.call("POST", "/v1/groups", owner, json={"displayName": title, "kind": "TRIP"})
    assert made.status_code == 200, made.text
    group = str(made.json()["name"])
    ids = [owner.user_id]
    for name in names:
        added = api.call(
            "POST", f"/v1/{group}/members", owner, json={"phoneNumber": random_phone(), "displayName": name}
        )
        assert added.status_code == 200, added.text
        ids.append(added.json()["user"].removeprefix("users/"))
    return group, ids


def nets_of(member: Mapping[str, Any]) -> dict[str, int]:
    # int64 is a JSON string in the proto3 mapping
    return {m["currencyCode"]: int(m["amountMinor"]) for m in member["net"]}


def balances(api: Api, who: Session, group: str, query: str = "") -> dict[str, dict[str, int]]:
    got = api.call("GET", f"/v1/{group}/balances{query}", who)
    assert got.status_code == 200, got.text
    return {m["user"].removeprefix("users/"): nets_of(m) for m in got.json()["members"]}


def settles(start: Mapping[str, int], transfers: list[dict[str, Any]]) -> bool:
    left = dict(start)
    for t in transfers:
        amount = int(t["amount"]["amountMinor"])
        assert amount > 0
        left[t["payer"].removeprefix("users/")] += amount
        left[t["payee"].removeprefix("users/")] -= amount
    return set(left.values()) <= {0}


async def test_group_balances_per_currency_with_names(api: Api, db: Database) -> None:
    asha = api.sign_in()
    group, (a, ravi, meera) = new_group(api, asha, ["Ravi", "Meera"])
    await record(db, group, "INR", {a: 60000, ravi: -30000, meera: -30000})
    await record(db, group, "USD", {a: -1250, ravi: 1250})

    got = api.call("GET", f"/v1/{group}/balances", asha).json()
    assert got["group"] == group
    by_user = {m["user"]: m for m in got["members"]}
    assert by_user[f"users/{ravi}"]["displayName"] == "Ravi"
    assert nets_of(by_user[f"users/{a}"]) == {"INR": 60000, "USD": -1250}
    assert [n["currencyCode"] for n in by_user[f"users/{a}"]["net"]] == ["INR", "USD"]
    assert nets_of(by_user[f"users/{meera}"]) == {"INR": -30000}
    assert balances(api, asha, group, "?currencyCode=USD") == {
        a: {"USD": -1250},
        ravi: {"USD": 1250},
        meera: {},
    }

    # Everyone settled up is still listed, with no nets.
    quiet, (q_owner, q_member) = new_group(api, asha, ["Idle"], "Quiet")
    assert balances(api, asha, quiet) == {q_owner: {}, q_member: {}}

    stranger = api.sign_in()
    hidden = api.call("GET", f"/v1/{group}/balances", stranger)
    assert hidden.status_code == 404 and "30000" not in hidden.text
    assert api.call("GET", f"/v1/{group}/debts", stranger).status_code == 404
    assert api.call("GET", "/v1/groups/not-a-uuid/balances", asha).status_code == 404
    bad = api.call("GET", f"/v1/{group}/balances?currencyCode=XYZ", asha)
    assert bad.status_code == 400 and "currencyCode" in bad.json()["message"]


async def test_my_balances_across_groups_and_friend_ledgers(api: Api, db: Database) -> None:
    asha = api.sign_in()
    trip, (a, ravi, meera) = new_group(api, asha, ["Ravi", "Meera"])
    await record(db, trip, "INR", {a: 90000, ravi: -45000, meera: -45000})
    flat, (_, sam) = new_group(api, asha, ["Sam"], "Flat")
    await record(db, flat, "USD", {a: -700, sam: 700})
    friend = api.sign_in()
    api.call("PATCH", "/v1/users/me?updateMask=displayName", friend, json={"displayName": "Kabir"})
    direct = api.call("POST", "/v1/groups:openDirect", asha, json={"user": f"users/{friend.user_id}"})
    direct_name = direct.json()["name"]
    await record(db, direct_name, "INR", {a: -20000, friend.user_id: 20000})
    settled, _ = new_group(api, asha, [], "Settled")

    mine = api.call("GET", "/v1/users/me/balances", asha).json()
    assert [g["group"] for g in mine["groups"]] == [trip, direct_name, flat]  # largest first
    entry = {g["group"]: g for g in mine["groups"]}
    assert entry[trip]["displayName"] == "Goa trip" and entry[trip]["direct"] is False
    assert nets_of(entry[trip]) == {"INR": 90000}
    assert entry[direct_name]["direct"] is True
    assert entry[direct_name]["friend"] == f"users/{friend.user_id}"
    assert entry[direct_name]["displayName"] == "Kabir"
    assert nets_of(entry[direct_name]) == {"INR": -20000}
    owed = {m["currencyCode"]: int(m["amountMinor"]) for m in mine["totalOwedToCaller"]}
    owes = {m["currencyCode"]: int(m["amountMinor"]) for m in mine["totalCallerOwes"]}
    assert owed == {"INR": 90000}
    assert owes == {"INR": 20000, "USD": 700}

    everything = api.call("GET", "/v1/users/me/balances?showSettled=true", asha).json()
    assert settled in [g["group"] for g in everything["groups"]]
    assert settled not in [g["group"] for g in mine["groups"]]

    # The friend sees the mirror image.
    theirs = api.call("GET", "/v1/users/me/balances", friend).json()
    assert [(g["group"], g["friend"]) for g in theirs["groups"]] == [(direct_name, f"users/{a}")]
    assert theirs["totalOwedToCaller"] == [{"currencyCode": "INR", "amountMinor": "20000"}]


async def test_simplified_debts_are_optimal_and_deterministic(api: Api, db: Database) -> None:
    owner = api.sign_in()
    group, ids = new_group(api, owner, [f"P{i}" for i in range(6)])
    start = dict(zip(ids, [9, -8, 6, -2, 3, 4, -12], strict=True))
    await record(db, group, "INR", start)

    got = api.call("GET", f"/v1/{group}/debts", owner)
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["optimal"] is True
    transfers = body["transfers"]
    assert len(transfers) == 5  # largest-first greedy needs 6
    assert settles(start, transfers)
    amounts = [int(t["amount"]["amountMinor"]) for t in transfers]
    assert amounts == sorted(amounts, reverse=True)
    assert api.call("GET", f"/v1/{group}/debts", owner).json() == body
    assert api.call("GET", f"/v1/{group}/debts?currencyCode=USD", owner).json()["transfers"] == []

    await record(db, group, "USD", {ids[1]: 500, ids[2]: -500})
    both = api.call("GET", f"/v1/{group}/debts", owner).json()["transfers"]
    assert [t["amount"]["currencyCode"] for t in both] == ["INR"] * 5 + ["USD"]
    only_usd = api.call("GET", f"/v1/{group}/debts?currencyCode=USD", owner).json()["transfers"]
    assert only_usd == [
        {
            "payer": f"users/{ids[2]}",
            "payee": f"users/{ids[1]}",
            "amount": {"currencyCode": "USD", "amountMinor": "500"},
        }
    ]


async def test_balances_follow_every_ledger_write_and_survive_a_cache_outage(
    api: Api, db: Database, stack: Stack
) -> None:
    assert stack.valkey is not None
    asha = api.sign_in()
    group, (a, ravi) = new_group(api, asha, ["Ravi"])
    await record(db, group, "INR", {a: 5000, ravi: -5000})
    first = balances(api, asha, group)  # now cached
    assert first == {a: {"INR": 5000}, ravi: {"INR": -5000}}
    debts_before = api.call("GET", f"/v1/{group}/debts", asha).json()

    # Another ledger writer (as expense-service would) moves the balances: no stale read.
    entry = await record(db, group, "INR", {a: -2000, ravi: 2000})
    assert balances(api, asha, group) == {a: {"INR": 3000}, ravi: {"INR": -3000}}
    async with db.transaction() as conn:
        await store.set_active(conn, entry, False)
    assert balances(api, asha, group) == first
    assert api.call("GET", f"/v1/{group}/debts", asha).json() == debts_before

    def answers() -> tuple[object, ...]:
        return (
            balances(api, asha, group),
            api.call("GET", f"/v1/{group}/debts", asha).json(),
            api.call("GET", "/v1/users/me/balances", asha).json(),
        )

    with_cache = answers()
    stack.valkey.stop()
    try:
        assert answers() == with_cache
        # A write while Redis is down is seen too, and after it comes back.
        await record(db, group, "INR", {a: 100, ravi: -100})
        assert balances(api, asha, group) == {a: {"INR": 5100}, ravi: {"INR": -5100}}
    finally:
        stack.valkey.start()
    assert balances(api, asha, group) == {a: {"INR": 5100}, ravi: {"INR": -5100}}
