"""Resource names: one parser, the same INVALID_ARGUMENT for every malformed name."""

from __future__ import annotations

import pytest

from libs import names
from libs.errors import InvalidArgument, NotFound


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


GROUP = "0b9e4a53-7a43-4a1b-9a4c-3f1f3f7f0c11"


def test_a_group_is_read_one_way() -> None:
    assert names.group(f"groups/{GROUP}", "parent") == GROUP
    assert names.group("groups/-", "parent", allow_every=True) == "-"
    assert names.in_one_group(f"groups/{GROUP}/settlements/s1", "settlements") == (GROUP, "s1")


def test_every_group_only_where_allowed() -> None:
    with pytest.raises(InvalidArgument) as err:
        names.group("groups/-", "parent")
    assert err.value.field == "parent"
    assert "must name one group" in err.value.message


@pytest.mark.parametrize("name", ["groups/42", "groups/not-a-uuid", f"groups/{GROUP}x"])
def test_an_id_no_group_can_have_is_not_found(name: str) -> None:
    with pytest.raises(NotFound) as err:
        names.group(name, "parent")
    assert names.GROUP_NOT_FOUND in str(err.value)
    with pytest.raises(NotFound):
        names.in_one_group(f"{name}/members/m1", "members")
