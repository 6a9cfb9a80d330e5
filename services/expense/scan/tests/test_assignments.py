"""Assigning a draft's items to people: every item exactly once, each to someone."""

from __future__ import annotations

import pytest

from libs.errors import InvalidArgument
from services.expense.scan.usecases import _assignments


def test_every_item_once_and_to_several_people() -> None:
    got = _assignments(((1, ("a", "b")), (0, ("a",))), 2)
    assert got == {0: ("a",), 1: ("a", "b")}


@pytest.mark.parametrize(
    ("given", "field"),
    [
        (((0, ("a",)),), "assignments"),
        (((0, ("a",)), (0, ("b",)), (1, ("a",))), "assignments[1].item"),
        (((2, ("a",)), (0, ("a",))), "assignments[0].item"),
        (((0, ()), (1, ("a",))), "assignments[0].participants"),
    ],
)
def test_bad_assignments_name_their_field(given: tuple[tuple[int, tuple[str, ...]], ...], field: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        _assignments(given, 2)
    assert err.value.field == field


def test_errors_about_the_expense_name_this_request_s_fields() -> None:
    from services.expense.scan.usecases import _request_field

    given = ((2, ("a",)), (0, ("a",)), (1, ("b", "c")))
    item = InvalidArgument("expense.split.itemized.items[1].participants[1]", "is not a member of the group")
    assert _request_field(item, given).field == "assignments[2].participants[1]"
    assert _request_field(InvalidArgument("expense.payers[0].user", "x"), given).field == "payers[0].user"
