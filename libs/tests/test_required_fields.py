"""google.api.field_behavior enforced from the descriptors, and error paths in JSON names."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from google.protobuf import field_mask_pb2
from google.rpc import error_details_pb2
from google.type import date_pb2
from grpc_status import rpc_status
from hisaab.auth.v1 import auth_pb2, auth_pb2_grpc
from hisaab.common.v1 import money_pb2
from hisaab.expense.v1 import expense_pb2
from hisaab.settlement.v1 import settlement_pb2

from libs.auth.jwks import JwksCache
from libs.auth.verifier import TokenVerifier
from libs.errors import InvalidArgument
from libs.rpc.descriptors import method_rules
from libs.rpc.fields import FieldRules, RequestFields, json_path, request_fields, with_json_path
from libs.rpc.pipeline import ServerPipeline
from libs.tests.test_pipeline import CLIENT, ISSUER, JWK, Servicer

CREATE = "/hisaab.expense.v1.ExpenseService/CreateExpense"
UPDATE = "/hisaab.expense.v1.ExpenseService/UpdateExpense"
SCAN = "/hisaab.expense.v1.ExpenseService/CreateExpenseFromScan"
SETTLE = "/hisaab.settlement.v1.SettlementService/CreateSettlement"


def rules(path: str, *, rest: bool = True) -> RequestFields:
    return request_fields([path], {path: rest})[path]


def expense(**overrides: object) -> expense_pb2.Expense:
    fields: dict[str, object] = {
        "description": "Dinner",
        "transaction_date": date_pb2.Date(year=2026, month=11, day=1),
        "total": money_pb2.Money(currency_code="INR", amount_minor=1000),
        "payers": [expense_pb2.Payer(user="users/a", paid_minor=1000)],
        "split": expense_pb2.Split(equal=expense_pb2.EqualSplit(participants=["users/a", "users/b"])),
    }
    fields.update(overrides)
    return expense_pb2.Expense(**fields)  # type: ignore[arg-type]


def missing(fields: RequestFields, request: object) -> str:
    with pytest.raises(InvalidArgument) as err:
        fields.enforce(request)  # type: ignore[arg-type]
    assert err.value.description == "is required"
    return err.value.field


def test_a_complete_request_passes() -> None:
    rules(CREATE).enforce(expense_pb2.CreateExpenseRequest(parent="groups/g", expense=expense()))


def test_no_payers_is_refused_not_defaulted_to_the_caller() -> None:
    request = expense_pb2.CreateExpenseRequest(parent="groups/g", expense=expense(payers=[]))
    assert missing(rules(CREATE), request) == "expense.payers"


def test_missing_fields_are_named_in_json_inside_nested_and_repeated_messages() -> None:
    create = rules(CREATE)
    no_amount = [expense_pb2.Payer(user="users/a", paid_minor=600), expense_pb2.Payer(user="users/b")]
    assert missing(
        create, expense_pb2.CreateExpenseRequest(parent="groups/g", expense=expense(payers=no_amount))
    ) == ("expense.payers[1].paidMinor")
    no_currency = expense(total=money_pb2.Money(amount_minor=1000))
    assert missing(create, expense_pb2.CreateExpenseRequest(parent="groups/g", expense=no_currency)) == (
        "expense.total.currencyCode"
    )
    nobody = expense(split=expense_pb2.Split(equal=expense_pb2.EqualSplit()))
    assert missing(create, expense_pb2.CreateExpenseRequest(parent="groups/g", expense=nobody)) == (
        "expense.split.equal.participants"
    )
    # A zero that reads the same as a dropped (misspelt) amount is refused too.
    exact = expense_pb2.ExactSplit(
        entries=[
            expense_pb2.ExactSplit.Entry(user="users/a", amount_minor=1000),
            expense_pb2.ExactSplit.Entry(user="users/b"),
        ]
    )
    unpaid = expense(split=expense_pb2.Split(exact=exact))
    assert missing(create, expense_pb2.CreateExpenseRequest(parent="groups/g", expense=unpaid)) == (
        "expense.split.exact.entries[1].amountMinor"
    )
    assert missing(create, expense_pb2.CreateExpenseRequest(expense=expense())) == "parent"
    assert missing(create, expense_pb2.CreateExpenseRequest(parent="groups/g")) == "expense"


def test_settlement_parties_and_amount_are_required() -> None:
    settle = rules(SETTLE)
    amount = money_pb2.Money(currency_code="INR", amount_minor=500)
    whole = settlement_pb2.Settlement(payer="users/a", payee="users/b", amount=amount)
    settle.enforce(settlement_pb2.CreateSettlementRequest(parent="groups/g", settlement=whole))
    for name, path in (
        ("payer", "settlement.payer"),
        ("payee", "settlement.payee"),
        ("amount", "settlement.amount"),
    ):
        partial = settlement_pb2.Settlement()
        partial.CopyFrom(whole)
        partial.ClearField(name)  # type: ignore[arg-type]
        assert (
            missing(settle, settlement_pb2.CreateSettlementRequest(parent="groups/g", settlement=partial))
            == path
        )


def test_a_scan_needs_its_payers() -> None:
    assignment = expense_pb2.CreateExpenseFromScanRequest.Assignment(item=0, participants=["users/a"])
    request = expense_pb2.CreateExpenseFromScanRequest(
        scan="groups/g/receiptScans/s", assignments=[assignment]
    )
    assert missing(rules(SCAN), request) == "payers"


def test_an_update_requires_only_what_its_mask_names() -> None:
    update = rules(UPDATE)
    only_description = expense_pb2.Expense(name="groups/g/expenses/e", description="Lunch")
    update.enforce(expense_pb2.UpdateExpenseRequest(expense=only_description))
    mask = field_mask_pb2.FieldMask(paths=["description"])
    update.enforce(expense_pb2.UpdateExpenseRequest(expense=only_description, update_mask=mask))
    mask = field_mask_pb2.FieldMask(paths=["description", "payers"])
    request = expense_pb2.UpdateExpenseRequest(expense=only_description, update_mask=mask)
    assert missing(update, request) == "expense.payers"
    # What the client did send is still checked inside.
    half = expense_pb2.Expense(name="groups/g/expenses/e", payers=[expense_pb2.Payer(paid_minor=5)])
    assert missing(update, expense_pb2.UpdateExpenseRequest(expense=half)) == "expense.payers[0].user"


def test_output_only_fields_from_a_client_are_dropped_but_kept_between_services() -> None:
    sent = expense(
        creator="users/mallory",
        shares=[expense_pb2.Share(user="users/a", paid_minor=1000, owed_minor=1000)],
    )
    request = expense_pb2.CreateExpenseRequest(parent="groups/g", expense=sent)
    rules(CREATE).enforce(request)
    assert request.expense.creator == "" and not request.expense.shares
    assert request.expense.description == "Dinner"

    internal = expense_pb2.CreateExpenseRequest(parent="groups/g", expense=sent)
    rules(CREATE, rest=False).enforce(internal)
    assert internal.expense.creator == "users/mallory"


def test_error_paths_use_json_names() -> None:
    descriptor = expense_pb2.CreateExpenseRequest.DESCRIPTOR
    assert json_path(descriptor, "expense.total.currency_code") == "expense.total.currencyCode"
    assert json_path(descriptor, "expense.payers[2].paid_minor") == "expense.payers[2].paidMinor"
    assert json_path(descriptor, "expense.split_preset") == "expense.splitPreset"
    # A path the type does not know is camel-cased the way protobuf names JSON fields.
    assert json_path(descriptor, "expense.split.exact.entries_sum") == "expense.split.exact.entriesSum"
    assert json_path(descriptor, "request_id") == "requestId"

    error = with_json_path(InvalidArgument("expense.total.amount_minor", "must be positive"), rules(CREATE))
    assert (error.field, error.message) == (
        "expense.total.amountMinor",
        "expense.total.amountMinor: must be positive",
    )
    assert error.metadata == {"field": "expense.total.amountMinor"}


@pytest.fixture
async def stub() -> AsyncIterator[Any]:
    verifier = TokenVerifier(JwksCache(lambda: {"keys": [JWK]}), issuer=ISSUER, client_id=CLIENT)
    pipeline = ServerPipeline(verifier, method_rules("hisaab.auth.v1.AuthService"))
    server = grpc.aio.server(interceptors=[pipeline, FieldRules(pipeline.fields)])
    auth_pb2_grpc.add_AuthServiceServicer_to_server(Servicer(), server)  # type: ignore[abstract]
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield auth_pb2_grpc.AuthServiceStub(channel)
    await server.stop(None)


async def test_a_missing_field_is_refused_before_the_servicer(stub: Any) -> None:
    # VerifySignIn is public, and the servicer here does not implement it: only the field
    # rules can answer.
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.VerifySignIn(auth_pb2.VerifySignInRequest(code="123456"))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(err.value)  # type: ignore[arg-type]
    assert status is not None
    violations = [
        v.field
        for detail in status.details
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR)
        for v in _unpack(detail).field_violations
    ]
    assert violations == ["challengeId"]


def _unpack(detail: object) -> error_details_pb2.BadRequest:
    bad = error_details_pb2.BadRequest()
    detail.Unpack(bad)  # type: ignore[attr-defined]
    return bad
