"""Contract fuzzing: schemathesis sends generated requests for every operation of docs/openapi.json
through Envoy, signed in as a real user who owns a real group with an expense and a settlement.

No response may be a 5xx, and every response, errors included, must match the
document (content type, headers and body schema). Path parameters are sometimes
replaced by the ids of that group's resources, so requests also reach the code
behind a successful lookup rather than stopping at NOT_FOUND.

The number of generated cases per operation is small by default so the run
takes minutes on a busy machine; HISAAB_FUZZ_EXAMPLES raises it. The cases are
the same on every run; HISAAB_FUZZ_SEED=<n> draws others, again the same for
the same n.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
)

from tests.support import Api, Session, paid_by_one
from tools import openapi

pytestmark = pytest.mark.e2e

EXAMPLES = int(os.environ.get("HISAAB_FUZZ_EXAMPLES", "6"))
SEED = os.environ.get("HISAAB_FUZZ_SEED", "")

CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    content_type_conformance,
    response_headers_conformance,
]


@dataclass(frozen=True)
class World:
    """A signed-in owner and the ids of things they can see, by path parameter name."""

    owner: Session
    ids: dict[str, str]


def _ok(resp: Any) -> dict[str, Any]:
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


@pytest.fixture(scope="module")
def world(api: Api) -> World:
    asha, ravi = api.sign_in(), api.sign_in()
    group = _ok(api.call("POST", "/v1/groups", asha, json={"displayName": "Fuzz", "kind": "TRIP"}))["name"]
    _ok(api.call("POST", f"/v1/{group}/members", asha, json={"user": f"users/{ravi.user_id}"}))
    expense = _ok(
        api.call(
            "POST",
            f"/v1/{group}/expenses",
            asha,
            json=paid_by_one(asha.user_id, [asha.user_id, ravi.user_id], 90000),
        )
    )["name"]
    _ok(api.call("POST", f"/v1/{expense}/comments", asha, json={"text": "fuzz"}))
    settlement = _ok(
        api.call(
            "POST",
            f"/v1/{group}/settlements?requestId={uuid.uuid4()}",
            ravi,
            json={
                "payer": f"users/{ravi.user_id}",
                "payee": f"users/{asha.user_id}",
                "amount": {"currencyCode": "INR", "amountMinor": "10000"},
            },
        )
    )["name"]
    link = _ok(api.call("POST", f"/v1/{group}/inviteLinks", asha, json={}))
    ids = {
        "groupId": group.rsplit("/", 1)[1],
        "expenseId": expense.rsplit("/", 1)[1],
        "settlementId": settlement.rsplit("/", 1)[1],
        "memberId": ravi.user_id,
        "userId": asha.user_id,
        "inviteLinkId": link["name"].rsplit("/", 1)[1],
        "token": link["token"],
    }
    return World(asha, ids)


def _operations() -> list[Any]:
    config = schemathesis.Config.from_dict({"request-timeout": 30})
    document = json.loads(openapi.DOC.read_text(encoding="utf-8"))
    operations: list[Any] = []
    for result in schemathesis.openapi.from_dict(document, config=config).get_all_operations():
        if isinstance(result, Err):
            raise result.err()  # the document has an operation schemathesis cannot read
        operations.append(result.ok())
    return operations


OPERATIONS = _operations()


def _cases(operation: Any, ids: dict[str, str]) -> st.SearchStrategy[Any]:
    """Valid and invalid requests; half of the valid ones address the world's resources
    instead of random ids, so they get past the lookup."""
    strategies = [
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    ]
    names = [p.name for p in operation.path_parameters]
    real = {name: ids[name] for name in names if name in ids}
    if real:
        strategies.append(operation.as_strategy(GenerationMode.POSITIVE, path_parameters=real))
    return st.one_of(strategies)


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.label)
def test_every_operation_conforms_to_the_document(operation: Any, api: Api, world: World) -> None:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=not SEED,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.generate],
    )
    @given(case=_cases(operation, world.ids))
    @seed(int(SEED or 0))
    def run(case: Any) -> None:
        # Public operations ignore the token; everything else runs as the group's owner.
        response = case.call(base_url=api.stack.rest_url, headers=world.owner.headers)
        case.validate_response(response, checks=CHECKS)

    run()


def test_a_header_grpc_cannot_carry_is_dropped_not_a_server_error(api: Api, world: World) -> None:
    # Legal in HTTP, illegal as gRPC metadata: the gateway removes it instead of passing it on.
    resp = api.call("GET", "/v1/users/me", world.owner, headers={"x-odd$name": "1", "a|b": "2"})
    assert resp.status_code == 200, resp.text
    assert resp.json()["name"] == f"users/{world.owner.user_id}"


def test_an_invite_token_no_link_was_given_is_not_found_not_a_server_error(api: Api, world: World) -> None:
    # A NUL byte cannot reach PostgreSQL; the token is refused as never issued.
    resp = api.call("POST", "/v1/groups:join", world.owner, json={"token": "abc\u0000def"})
    assert resp.status_code == 404, resp.text
