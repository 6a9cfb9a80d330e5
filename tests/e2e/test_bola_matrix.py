"""Broken object-level authorization, swept from the contract: every REST route by every role.

The routes come from the descriptors' ``google.api.http`` bindings (``tools.apidoc``),
so a new route is in the sweep the day it is bound. Each path variable is filled
with a resource of one world: an owner's group with a member, an expense, a comment,
a settlement and the rest, and the owner's own order and device. ``World.names`` says
how to name each kind of resource; a route whose variable matches none of them fails
``test_every_route_variable_has_a_resource``, so it cannot slip through unswept.

Who may do what:

* the owner: everything (not called: this sweep looks for refusals that are missing);
* a member: everything in the group except ``OWNER_ONLY``; nothing of the owner's own
  (orders, devices);
* a non-member, and the owner of another group: nothing. The other group's owner is
  also tried with the expense, comment, settlement... ids of the first group under
  *their own* group's name, the check a service forgets when it looks the child up
  by id alone.

A refused call must not be 2xx and must not carry any of the world's secrets (the
display names and texts below, which no request of the sweep contains). Routes with
no path variable act on the caller's own data: non-members call each and must see
none of the secrets. The sweep ends by checking the world is intact.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.support import Api, Session, paid_by_one
from tools import apidoc

pytestmark = pytest.mark.e2e

_VARIABLE = re.compile(r"\{([\w.]+)(?:=([^}]+))?\}")
# Refused to plain members by the group service.
OWNER_ONLY = frozenset({"ArchiveGroup", "UnarchiveGroup", "UpdateMember", "RemoveMember", "RevokeInviteLink"})
# Open by design to anyone who holds the value: an invite link's token is the invitation.
BEARER_VALUES = frozenset({"*"})


@dataclass(frozen=True)
class Route:
    method: str  # RPC name
    verb: str
    template: str  # "/v1/{name=groups/*/expenses/*}"
    body: str

    @property
    def patterns(self) -> list[str]:
        return [m.group(2) or "*" for m in _VARIABLE.finditer(self.template)]

    def path(self, names: list[str]) -> str:
        values = iter(names)
        return _VARIABLE.sub(lambda _: next(values), self.template)


def routes() -> list[Route]:
    found = []
    for service in apidoc.services(apidoc.hisaab_files(apidoc.load_descriptor_set())):
        for rpc in service.rpcs:
            found += [Route(rpc.name, b.verb, b.path, b.body) for b in rpc.http]
    return found


@dataclass
class World:
    owner: Session
    member: Session
    outsider: Session
    other_owner: Session
    group: str
    other_group: str
    names: dict[str, str]  # pattern -> a resource of that kind in the owner's world
    secrets: list[str]


def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    return dict(response.json())


def _secret(label: str) -> str:
    return f"{label} {uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="module")
def world(api: Api) -> World:
    owner, member, outsider, other_owner = (api.sign_in() for _ in range(4))
    for paying in (outsider, other_owner):
        api.buy_pro(paying)  # so a feature gate never answers before the ownership check
    secrets = {k: _secret(k) for k in ("group", "expense", "comment", "preset", "note", "token")}
    group = _ok(
        api.call("POST", "/v1/groups", owner, json={"displayName": secrets["group"], "kind": "TRIP"})
    )["name"]
    other_group = _ok(
        api.call("POST", "/v1/groups", other_owner, json={"displayName": "Theirs", "kind": "TRIP"})
    )["name"]
    _ok(api.call("POST", f"/v1/{group}/members", owner, json={"user": f"users/{member.user_id}"}))
    users = [owner.user_id, member.user_id]
    expense = _ok(
        api.call(
            "POST",
            f"/v1/{group}/expenses",
            owner,
            json=paid_by_one(owner.user_id, users, 5000, description=secrets["expense"]),
        )
    )["name"]
    comment = _ok(api.call("POST", f"/v1/{expense}/comments", owner, json={"text": secrets["comment"]}))
    settlement = _ok(
        api.call(
            "POST",
            f"/v1/{group}/settlements",
            member,
            json={
                "payer": f"users/{member.user_id}",
                "payee": f"users/{owner.user_id}",
                "amount": {"currencyCode": "INR", "amountMinor": "100"},
                "note": secrets["note"],
            },
        )
    )
    preset = _ok(
        api.call(
            "POST",
            f"/v1/{group}/splitPresets",
            owner,
            json={
                "displayName": secrets["preset"],
                "mode": "SHARES",
                "entries": [{"user": f"users/{u}", "value": "1"} for u in users],
            },
        )
    )
    link = _ok(api.call("POST", f"/v1/{group}/inviteLinks", owner, json={}))
    export = _ok(api.call("POST", f"/v1/{group}:exportCsv", owner, json={}))
    order = _ok(api.call("POST", "/v1/orders", owner, json={"pack": "packs/pro_monthly", "provider": "DEV"}))
    device = _ok(
        api.call(
            "POST", "/v1/users/me/devices", owner, json={"platform": "ANDROID", "pushToken": secrets["token"]}
        )
    )
    names = {
        "groups/*": group,
        "groups/*/members/*": f"{group}/members/{owner.user_id}",
        "groups/*/expenses/*": expense,
        "groups/*/expenses/*/comments/*": comment["name"],
        "groups/*/settlements/*": settlement["name"],
        "groups/*/splitPresets/*": preset["name"],
        "groups/*/inviteLinks/*": link["name"],
        "groups/*/exports/*": export["name"],
        # Not built (a paid rule, a photo to scan): a well-formed name in the group. The
        # group's membership check comes first, so a refusal is still the one under test.
        "groups/*/recurringExpenses/*": f"{group}/recurringExpenses/{uuid.uuid4()}",
        "groups/*/receiptScans/*": f"{group}/receiptScans/{uuid.uuid4()}",
        "orders/*": order["name"],
        "users/*/devices/*": device["name"],
        "*": link["token"],
    }
    return World(owner, member, outsider, other_owner, group, other_group, names, list(secrets.values()))


# Bodies that would succeed for an allowed caller, so a refusal is about who asks.
BODIES: dict[str, Callable[[World, Session], dict[str, Any]]] = {
    "UpdateGroup": lambda w, s: {"displayName": "taken over"},
    "AddMember": lambda w, s: {"user": f"users/{s.user_id}"},
    "UpdateMember": lambda w, s: {"role": "MEMBER"},
    "CreateExpense": lambda w, s: paid_by_one(w.owner.user_id, [w.owner.user_id], 100),
    "CreateComment": lambda w, s: {"text": "hello"},
    "CreateSettlement": lambda w, s: {
        "payer": f"users/{w.owner.user_id}",
        "payee": f"users/{w.member.user_id}",
        "amount": {"currencyCode": "INR", "amountMinor": "100"},
    },
    "CreateInviteLink": lambda w, s: {},
    "ConfirmPayment": lambda w, s: {"providerPaymentId": f"pay_{uuid.uuid4()}"},
}


def _callers(world: World, route: Route) -> Iterator[tuple[str, Session, list[str]]]:
    """(role, caller, values for the path variables) for every call that must be refused."""
    patterns = route.patterns
    if any(p in BEARER_VALUES for p in patterns):
        return
    names = [world.names[p] for p in patterns]
    yield "non-member", world.outsider, names
    yield "another group's owner", world.other_owner, names
    own_group = [n.replace(world.group, world.other_group, 1) for n in names]
    if own_group != names and any(p.startswith("groups/*/") for p in patterns):
        yield "another group's owner, own group", world.other_owner, own_group
    user_owned = any(not p.startswith("groups/") for p in patterns)
    if user_owned or route.method in OWNER_ONLY:
        yield "member", world.member, names


def _send(api: Api, route: Route, caller: Session, names: list[str], world: World) -> httpx.Response:
    path = route.path(names)
    if route.verb in ("GET", "DELETE"):
        return api.call(route.verb, path, caller)
    build = BODIES.get(route.method)
    body = build(world, caller) if build else {}
    return api.call(route.verb, path, caller, json=body)


def test_every_route_variable_has_a_resource(world: World) -> None:
    unknown = {(r.method, p) for r in routes() for p in r.patterns if p not in world.names}
    assert unknown == set(), f"add a resource for these to world().names in {__file__}: {sorted(unknown)}"


def test_no_route_gives_a_foreign_resource_to_anyone_not_allowed(api: Api, world: World) -> None:
    leaks = []
    swept = 0
    for route in routes():
        if not route.patterns:
            continue
        for role, caller, names in _callers(world, route):
            swept += 1
            answer = _send(api, route, caller, names, world)
            shown = [s for s in world.secrets if s in answer.text]
            if 200 <= answer.status_code < 300 or shown:
                leaks.append((route.method, route.verb, route.path(names), role, answer.status_code, shown))
    assert leaks == []
    assert swept > 100  # the sweep ran over the contract, not over an empty list
    _assert_world_intact(api, world)


def test_routes_on_the_callers_own_data_show_nothing_of_anyone_else(api: Api, world: World) -> None:
    leaks = []
    for route in routes():
        if route.patterns:
            continue
        for caller in (world.outsider, world.other_owner):
            answer = _send(api, route, caller, [], world)
            shown = [s for s in world.secrets if s in answer.text]
            if shown:
                leaks.append((route.method, route.template, answer.status_code, shown))
    assert leaks == []
    _assert_world_intact(api, world)


def test_the_sweep_would_see_a_leak(api: Api, world: World) -> None:
    """The same call made by someone allowed is what the sweep flags: 2xx and the secrets."""
    expense = next(r for r in routes() if r.method == "GetExpense")
    answer = _send(api, expense, world.member, [world.names["groups/*/expenses/*"]], world)
    assert answer.status_code == 200 and any(s in answer.text for s in world.secrets)


def _assert_world_intact(api: Api, world: World) -> None:
    group = _ok(api.call("GET", f"/v1/{world.group}", world.owner))
    assert group["displayName"] in world.secrets
    expense = _ok(api.call("GET", f"/v1/{world.names['groups/*/expenses/*']}", world.owner))
    assert expense.get("deleted", False) is False
    members = _ok(api.call("GET", f"/v1/{world.group}/members", world.owner))["members"]
    assert {m["user"] for m in members} == {f"users/{world.owner.user_id}", f"users/{world.member.user_id}"}
    comments = _ok(api.call("GET", f"/v1/{world.names['groups/*/expenses/*']}/comments", world.owner))
    assert [c["text"] for c in comments["comments"]] == [s for s in world.secrets if s.startswith("comment")]
