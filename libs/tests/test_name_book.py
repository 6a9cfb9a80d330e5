"""Names for a response: the group's cached roster first, the directory for the rest, and a
directory outage costs names, never the call."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from hisaab.expense.v1 import expense_pb2
from hisaab.settlement.v1 import settlement_pb2

from libs.clients.names import NameBook, group_of
from libs.clients.rosters import Roster, RosterCache
from libs.clients.users import UserDirectory
from libs.errors import Unavailable


class Rosters:
    def __init__(self, rosters: dict[str, Roster]) -> None:
        self.rosters = rosters

    async def cached(self, group_id: str) -> Roster | None:
        return self.rosters.get(group_id)


class Users:
    def __init__(self, names: dict[str, str], *, down: bool = False) -> None:
        self.known = names
        self.down = down
        self.asked: list[list[str]] = []

    async def display_names(self, user_ids: Sequence[str]) -> dict[str, str]:
        self.asked.append(list(user_ids))
        if self.down:
            raise Unavailable("down")
        return {u: self.known[u] for u in user_ids if u in self.known}


def _book(users: Users) -> NameBook:
    roster = Roster("g1", "trip", 3, {"asha": "Asha", "ravi": "Ravi", "nameless": ""})
    return NameBook(cast(RosterCache, Rosters({"g1": roster})), cast(UserDirectory, users))


def test_the_group_comes_from_the_request() -> None:
    assert group_of(expense_pb2.ListExpensesRequest(parent="groups/g1")) == "g1"
    assert group_of(expense_pb2.GetExpenseRequest(name="groups/g1/expenses/e1")) == "g1"
    assert group_of(settlement_pb2.ListSimplifiedDebtsRequest(group="groups/g1")) == "g1"
    assert group_of(expense_pb2.ListActivitiesRequest(parent="groups/-")) == ""
    assert group_of(expense_pb2.ListCurrenciesRequest()) == ""


async def test_members_are_named_from_the_roster_and_only_others_cost_a_call() -> None:
    users = Users({"meera": "Meera (left)", "asha": "stale"})
    request: Any = expense_pb2.ListExpensesRequest(parent="groups/g1")
    assert await _book(users).names(request, ["asha", "meera", "ravi"]) == {
        "asha": "Asha",
        "ravi": "Ravi",
        "meera": "Meera (left)",
    }
    assert users.asked == [["meera"]]
    assert await _book(users).names(request, ["ravi"]) == {"ravi": "Ravi"} and len(users.asked) == 1
    # A member who never chose a name has none anywhere: the roster says so without a call.
    assert await _book(users).names(request, ["nameless"]) == {"nameless": ""} and len(users.asked) == 1


async def test_without_a_cached_roster_the_directory_names_everyone() -> None:
    users = Users({"asha": "Asha"})
    request: Any = expense_pb2.ListActivitiesRequest(parent="groups/-")
    assert await _book(users).names(request, ["asha"]) == {"asha": "Asha"} and users.asked == [["asha"]]


async def test_a_directory_outage_leaves_names_out_instead_of_failing() -> None:
    request: Any = expense_pb2.ListExpensesRequest(parent="groups/g1")
    assert await _book(Users({}, down=True)).names(request, ["asha", "meera"]) == {"asha": "Asha"}
