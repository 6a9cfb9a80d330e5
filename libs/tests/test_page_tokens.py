"""Page tokens are signed, bound to the query, method and caller, and expire: anything else is a 400."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import timedelta

import pytest

from libs import pagination
from libs.auth.caller import Caller, reset_caller, reset_method, set_caller, set_method
from libs.errors import InvalidArgument

QUERY = {"group": "g1"}
LIST_EXPENSES = "/hisaab.expense.v1.ExpenseService/ListExpenses"


@pytest.fixture(autouse=True)
def serving() -> Iterator[None]:
    caller, method = set_caller(Caller("u1", "token")), set_method(LIST_EXPENSES)
    yield
    reset_method(method)
    reset_caller(caller)


def refused(token: str, query: dict[str, str] = QUERY, field: str = "page_token") -> str:
    with pytest.raises(InvalidArgument) as err:
        pagination.decode(token, query, field=field)
    assert err.value.field == field
    return err.value.message


def unsigned(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def test_a_token_reads_back_only_for_its_query_method_and_caller() -> None:
    token = pagination.encode(["2026-01-01T00:00:00+00:00", "id-9"], QUERY)
    cursor = pagination.decode(token, QUERY)
    assert cursor is not None and cursor.key == ["2026-01-01T00:00:00+00:00", "id-9"]
    assert "different query" in refused(token, {"group": "g2"})
    other_method = set_method("/hisaab.expense.v1.ExpenseService/ListActivities")
    assert "different query" in refused(token)
    reset_method(other_method)
    other_caller = set_caller(Caller("u2", "token"))
    assert "different query" in refused(token)
    reset_caller(other_caller)
    assert pagination.decode(token, QUERY) is not None


@pytest.mark.parametrize(
    "forged",
    [
        "%%%not-base64",
        unsigned({"k": ["zzz", "zzz"], "q": "x"}),  # the old unsigned form
        unsigned(["zzz", "zzz"]) + ".AAAAAAAAAAAAAAAAAAAAAA",
        ".",
        "a.b.c",
        "\u202e.\u0000",
    ],
)
def test_forged_tokens_are_refused_before_anything_in_them_is_used(forged: str) -> None:
    assert "not a token this API issued" in refused(forged)


def test_an_edited_token_is_refused() -> None:
    token = pagination.encode([1, "x"], QUERY)
    body, _, signature = token.partition(".")
    data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    data["k"] = [[], {"a": 1}]
    assert "not a token" in refused(f"{unsigned(data)}.{signature}")
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    assert "not a token" in refused(f"{body}.{flipped}")


def test_a_stale_token_is_refused_naming_the_field() -> None:
    stale = pagination.encode([1], QUERY, ttl=timedelta(seconds=-1))
    assert "expired" in refused(stale, field="cursor")


class _ListRequest:
    def __init__(self, page_size: int = 0, page_token: str = ""):
        self.page_size = page_size
        self.page_token = page_token


def test_a_page_reads_one_extra_row_and_walks_the_list_to_its_end() -> None:
    rows = list(range(1, 8))
    seen: list[int] = []
    token = ""
    while True:
        pager = pagination.Page.of(_ListRequest(page_size=3, page_token=token), QUERY)
        assert pager.limit == 4
        after = pager.after_one
        found = [r for r in rows if after is None or r > after][: pager.limit]
        page, token = pager.cut(found, lambda last: [last])
        seen += page
        if not token:
            break
    assert seen == rows


def test_a_page_takes_the_default_size_and_refuses_a_foreign_token() -> None:
    pager = pagination.Page.of(_ListRequest(), QUERY)
    assert (pager.size, pager.after, pager.after_one) == (pagination.DEFAULT_PAGE_SIZE, None, None)
    other = pagination.encode(["x"], {"group": "g2"})
    with pytest.raises(InvalidArgument) as err:
        pagination.Page.of(_ListRequest(page_token=other), QUERY)
    assert err.value.field == "page_token"
