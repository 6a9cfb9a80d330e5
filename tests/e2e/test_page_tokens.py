"""Every list method in the contract, fed forged, edited and foreign page tokens through Envoy:
a 400 naming the token's field, never a 5xx. A list added to the contract is covered here
without a new test (a new kind of parent fails loudly until it is given one)."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass

import pytest
from google.protobuf import descriptor_pool

from tests.e2e.test_expense_journey import error_field
from tests.support import Api, Session, paid_by_one
from tools import apidoc

pytestmark = pytest.mark.e2e

TOKEN_FIELDS = {"page_token": "pageToken", "cursor": "cursor"}


@dataclass(frozen=True)
class ListRoute:
    method: str
    path: str
    field: str  # the request field that takes the token
    gated: bool


def list_routes() -> list[ListRoute]:
    fds = apidoc.load_descriptor_set()
    pool = descriptor_pool.DescriptorPool()
    for fd in fds.file:
        pool.Add(fd)
    routes = []
    for service in apidoc.services(apidoc.hisaab_files(fds)):
        for rpc in service.rpcs:
            fields = {f.name for f in pool.FindMessageTypeByName(rpc.input_type).fields}
            for binding in rpc.http:
                token_fields = [f for f in TOKEN_FIELDS if f in fields]
                if binding.verb == "GET" and token_fields:
                    routes.append(ListRoute(rpc.name, binding.path, token_fields[0], bool(rpc.feature)))
    return routes


def fill(path: str, names: dict[str, str]) -> str:
    def resource(match: re.Match[str]) -> str:
        pattern = match.group(1)
        assert pattern in names, f"no test resource for {pattern!r} in {path}: add one to names"
        return names[pattern]

    return re.sub(r"\{[a-z_]+=([^}]+)\}", resource, path)


def unsigned(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def test_no_page_token_of_any_kind_reaches_a_query(api: Api) -> None:
    routes = list_routes()
    assert len(routes) >= 15, [r.method for r in routes]
    asha: Session = api.sign_in()
    group = api.call("POST", "/v1/groups", asha, json={"displayName": "Tokens", "kind": "HOME"}).json()[
        "name"
    ]
    made = [
        api.call("POST", f"/v1/{group}/expenses", asha, json=paid_by_one(asha.user_id, [asha.user_id], n))
        for n in (100, 200)
    ]
    assert all(m.status_code == 200 for m in made), [m.text for m in made]
    names = {"groups/*": group, "groups/*/expenses/*": made[0].json()["name"]}
    genuine = api.call("GET", f"/v1/{group}/expenses", asha, params={"pageSize": "1"}).json()["nextPageToken"]
    body, _, signature = genuine.partition(".")
    forged = [
        unsigned({"k": ["zzz", "zzz"], "q": "x"}),
        unsigned(["zzz", "zzz"]),
        unsigned([1, "x"]) + "." + signature,
        body + "." + signature[::-1],
        "%%%",
        "\u202e",
    ]
    for route in routes:
        path = fill(route.path, names)
        param = TOKEN_FIELDS[route.field]
        tokens = forged if route.method == "ListExpenses" else [*forged, genuine]
        for token in tokens:
            resp = api.call("GET", path, asha, params={param: token})
            where = (route.method, token)
            assert resp.status_code < 500, (where, resp.status_code, resp.text)
            if route.gated and resp.status_code == 403:
                continue
            assert resp.status_code == 400 and error_field(resp) == param, (where, resp.text)
