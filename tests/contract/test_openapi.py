"""docs/openapi.json: a valid OpenAPI 3.1 document, in sync with the protos, describing every REST route.

No servers: the document is rebuilt from gen/hisaab.pb and compared; the served
copy is checked by tests/e2e/test_openapi_served.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from google.api import field_behavior_pb2
from google.protobuf import descriptor_pb2
from openapi_spec_validator import validate

from tools import apidoc, codegen, openapi

HTTP_VERBS = ("get", "post", "patch", "put", "delete")


@pytest.fixture(scope="module")
def fds() -> descriptor_pb2.FileDescriptorSet:
    assert codegen.is_fresh(), "gen/ is stale or missing: run `make gen`"
    return apidoc.load_descriptor_set()


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    assert openapi.DOC.exists(), "docs/openapi.json is missing: run `make docs`"
    return dict(json.loads(openapi.DOC.read_text(encoding="utf-8")))


def _operations(document: dict[str, Any]) -> dict[str, tuple[str, str, dict[str, Any]]]:
    return {
        op["operationId"]: (verb.upper(), path, op)
        for path, item in document["paths"].items()
        for verb, op in item.items()
        if verb in HTTP_VERBS
    }


def _schema(document: dict[str, Any], ref: dict[str, Any]) -> dict[str, Any]:
    return dict(document["components"]["schemas"][ref["$ref"].rsplit("/", 1)[1]])


def test_document_in_sync(fds: descriptor_pb2.FileDescriptorSet) -> None:
    assert openapi.DOC.read_text(encoding="utf-8") == openapi.render(fds), (
        "docs/openapi.json is stale: run `make docs`"
    )


def test_check_fails_on_stale_document(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stale = tmp_path / "openapi.json"
    stale.write_text("{}\n", encoding="utf-8")
    monkeypatch.setattr(openapi, "DOC", stale)
    monkeypatch.setattr(openapi, "ROOT", tmp_path)
    monkeypatch.setattr("sys.argv", ["openapi", "--check"])
    with pytest.raises(SystemExit) as exc:
        openapi.main()
    assert exc.value.code == 1


def test_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1")
    validate(document)  # raises on any violation of the OpenAPI 3.1 schema


def test_every_rest_binding_is_one_operation(
    fds: descriptor_pb2.FileDescriptorSet, document: dict[str, Any]
) -> None:
    rpcs = [r for s in apidoc.services(apidoc.hisaab_files(fds)) for r in s.rpcs if not r.internal]
    bindings = sum(len(r.http) for r in rpcs)
    operations = _operations(document)
    assert len(operations) == bindings
    described = {op["summary"] for _, _, op in operations.values()}
    assert {r.summary for r in rpcs} <= described


def test_public_operations_need_no_token(
    fds: descriptor_pb2.FileDescriptorSet, document: dict[str, Any]
) -> None:
    rpcs = [r for s in apidoc.services(apidoc.hisaab_files(fds)) for r in s.rpcs if not r.internal]
    public_paths = {(b.verb, b.path.split("{")[0]) for r in rpcs if r.public for b in r.http}
    assert public_paths, "the contract marks sign-in public"
    assert document["security"] == [{"bearerAuth": []}]
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    for verb, path, op in _operations(document).values():
        is_public = op.get("security") == []
        assert is_public == ((verb, path.split("{")[0]) in public_paths), (verb, path)


def test_resource_names_become_one_path_parameter_per_id(document: dict[str, Any]) -> None:
    verb, path, op = _operations(document)["UndeleteExpense"]
    assert (verb, path) == ("POST", "/v1/groups/{groupId}/expenses/{expenseId}:undelete")
    assert [p["name"] for p in op["parameters"] if p["in"] == "path"] == ["groupId", "expenseId"]


def test_unbound_fields_of_a_get_are_query_parameters(document: dict[str, Any]) -> None:
    _, _, op = _operations(document)["ListExpenses"]
    query = {p["name"] for p in op["parameters"] if p["in"] == "query"}
    assert {"pageSize", "pageToken", "startDate.year", "showDeleted"} <= query
    assert "parent" not in query and "requestBody" not in op


def test_body_field_binding_leaves_the_rest_to_the_query(document: dict[str, Any]) -> None:
    _, _, op = _operations(document)["UpdateExpense"]
    assert [p["name"] for p in op["parameters"] if p["in"] == "query"] == ["updateMask"]
    body = _schema(document, op["requestBody"]["content"]["application/json"]["schema"])
    # The path binds expense.name; the transcoder rejects a body that sets it too.
    assert "name" not in body["properties"] and "total" in body["properties"]
    # An update sends only the fields updateMask names.
    assert "required" not in body


def test_json_names_and_types_are_what_the_transcoder_prints(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    money = schemas["Money"]["properties"]
    assert money["amountMinor"]["type"] == "string" and money["amountMinor"]["format"] == "int64"
    assert "currencyCode" in money
    expense = schemas["Expense"]["properties"]
    assert expense["createTime"]["format"] == "date-time" and expense["createTime"]["readOnly"] is True
    category = expense["category"]
    ref = category["allOf"][0] if "allOf" in category else category
    assert "FOOD" in _schema(document, ref)["enum"]


def _field_behaviors(fds: descriptor_pb2.FileDescriptorSet, behavior: int) -> dict[str, set[str]]:
    """Message short name -> JSON names of its fields carrying ``behavior``, for hisaab messages."""
    found: dict[str, set[str]] = {}
    for fd in apidoc.hisaab_files(fds):
        for m in fd.message_type:
            names = {
                f.json_name
                for f in m.field
                if behavior in f.options.Extensions[field_behavior_pb2.field_behavior]
            }
            if names:
                found[m.name] = names
    return found


def test_field_behavior_becomes_required_and_read_only(
    fds: descriptor_pb2.FileDescriptorSet, document: dict[str, Any]
) -> None:
    schemas = document["components"]["schemas"]
    required = _field_behaviors(fds, field_behavior_pb2.REQUIRED)
    output_only = _field_behaviors(fds, field_behavior_pb2.OUTPUT_ONLY)
    checked = 0
    for name, fields in required.items():
        if name in schemas:
            assert fields <= set(schemas[name].get("required", [])), name
            checked += 1
    for name, fields in output_only.items():
        if name in schemas:
            for json_name in fields:
                assert schemas[name]["properties"][json_name].get("readOnly") is True, (name, json_name)
            checked += 1
    assert checked, "the contract annotates fields with google.api.field_behavior"


def test_errors_are_status_with_typed_details(document: dict[str, Any]) -> None:
    status = document["components"]["schemas"]["Status"]
    assert {"code", "message", "details"} <= set(status["properties"])
    detail_types = {
        variant["allOf"][1]["properties"]["@type"]["const"]
        for variant in status["properties"]["details"]["items"]["anyOf"]
    }
    assert {
        "type.googleapis.com/google.rpc.ErrorInfo",
        "type.googleapis.com/google.rpc.BadRequest",
    } <= detail_types
    for _, _, op in _operations(document).values():
        assert op["responses"]["default"] == {"$ref": "#/components/responses/Error"}


@pytest.mark.parametrize(
    ("template", "path", "params"),
    [
        ("/v1/{name=users/*/devices/*}", "/v1/users/{userId}/devices/{deviceId}", ("userId", "deviceId")),
        ("/v1/invites/{token}", "/v1/invites/{token}", ("token",)),
        (
            "/v1/{recurring_expense.name=groups/*/recurringExpenses/*}",
            "/v1/groups/{groupId}/recurringExpenses/{recurringExpenseId}",
            ("groupId", "recurringExpenseId"),
        ),
        ("/v1/{parent=groups/*}/activities", "/v1/groups/{groupId}/activities", ("groupId",)),
    ],
)
def test_path_templates(template: str, path: str, params: tuple[str, ...]) -> None:
    got, variables = openapi._parse_path(template)
    assert got == path
    assert tuple(p for v in variables for p in v.params) == params


def test_multi_segment_wildcards_are_refused() -> None:
    with pytest.raises(SystemExit, match="single-segment"):
        openapi._parse_path("/v1/{name=files/**}")
