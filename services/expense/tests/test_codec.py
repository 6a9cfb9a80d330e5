"""The expense codec never assumes who paid: a request without payers is refused, naming the field."""

from __future__ import annotations

import pytest
from google.type import date_pb2
from hisaab.common.v1 import money_pb2
from hisaab.expense.v1 import expense_pb2

from libs.errors import InvalidArgument
from services.expense import codec


def _expense(*payers: tuple[str, int]) -> expense_pb2.Expense:
    return expense_pb2.Expense(
        description="Dinner",
        transaction_date=date_pb2.Date(year=2026, month=3, day=14),
        total=money_pb2.Money(currency_code="INR", amount_minor=1000),
        payers=[expense_pb2.Payer(user=f"users/{u}", paid_minor=p) for u, p in payers],
        split=expense_pb2.Split(equal=expense_pb2.EqualSplit(participants=["users/asha", "users/ravi"])),
    )


def test_a_create_keeps_the_payers_it_was_given() -> None:
    draft = codec.draft(_expense(("ravi", 600), ("asha", 400)), "expense")
    assert draft.payers == (("ravi", 600), ("asha", 400))


@pytest.mark.parametrize("prefix", ["expense", "recurring_expense.template"])
def test_a_create_without_payers_is_refused_not_paid_by_the_caller(prefix: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        codec.draft(_expense(), prefix, need_date=prefix == "expense")
    assert caught.value.field == f"{prefix}.payers"


def test_an_edit_that_names_payers_must_send_some() -> None:
    assert codec.updates(_expense(("ravi", 1000)), ["payers"]).payers == (("ravi", 1000),)
    with pytest.raises(InvalidArgument) as caught:
        codec.updates(_expense(), ["payers"])
    assert caught.value.field == "expense.payers"
    # An edit that does not name payers leaves them alone.
    assert codec.updates(_expense(), ["description"]).payers is None
