"""Resource names: one parser, the same INVALID_ARGUMENT for every malformed name."""

from __future__ import annotations

import pytest

from libs import names
from libs.errors import InvalidArgument


def test_ids_come_out_in_order() -> None:
    assert names.one("groups/g1", "groups") == "g1"
    assert names.in_group("groups/g1/expenses/e1", "expenses") == ("g1", "e1")
    assert names.parse("groups/g1/expenses/e1/comments/c1", "groups/{}/expenses/{}/comments/{}") == (
        "g1",
        "e1",
        "c1",
    )


@pytest.mark.parametrize(
    "name", ["", "groups/", "groups//expenses/e", "groups/g/expense/e", "groups/g/expenses/e/x", "users/u"]
)
def test_a_malformed_name_names_the_field_and_the_shape(name: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        names.in_group(name, "expenses", "expense.name")
    assert err.value.field == "expense.name"
    assert "must look like groups/<id>/expenses/<id>" in err.value.message
