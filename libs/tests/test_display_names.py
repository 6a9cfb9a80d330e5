"""Display names beside user ids: found from the descriptors, one directory call per response."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from google.protobuf import struct_pb2
from hisaab.common.v1 import money_pb2
from hisaab.expense.v1 import expense_pb2
from hisaab.settlement.v1 import settlement_pb2

from libs.display_names import _people_below, label, labelled, person_fields, sibling

NAMES = {"asha": "Asha", "ravi": "Ravi", "meera": "Meera"}


class Directory:
    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    async def __call__(self, user_ids: Sequence[str]) -> Mapping[str, str]:
        self.calls.append(list(user_ids))
        return {u: NAMES[u] for u in user_ids if u in NAMES}

    async def names(self, request: object, user_ids: Sequence[str]) -> Mapping[str, str]:
        return await self(user_ids)


def test_each_user_field_names_its_display_name_field() -> None:
    assert sibling("user") == "display_name" and sibling("payer") == "payer_display_name"
    assert person_fields(settlement_pb2.Settlement.DESCRIPTOR) == (
        ("payer", "payer_display_name"),
        ("payee", "payee_display_name"),
        ("creator", "creator_display_name"),
    )
    assert person_fields(expense_pb2.Share.DESCRIPTOR) == (("user", "display_name"),)


async def test_a_whole_response_is_labelled_with_one_lookup() -> None:
    expense = expense_pb2.Expense(
        creator="users/asha",
        last_editor="users/ravi",
        payers=[expense_pb2.Payer(user="users/asha", paid_minor=100)],
        shares=[
            expense_pb2.Share(user="users/asha", paid_minor=100, owed_minor=50),
            expense_pb2.Share(user="users/meera", owed_minor=50),
        ],
    )
    response = expense_pb2.ListExpensesResponse(expenses=[expense, expense_pb2.Expense(creator="users/gone")])
    directory = Directory()
    await label(response, directory)
    assert directory.calls == [["asha", "gone", "meera", "ravi"]]
    first, second = response.expenses
    assert (first.creator_display_name, first.last_editor_display_name) == ("Asha", "Ravi")
    assert first.payers[0].display_name == "Asha"
    assert [s.display_name for s in first.shares] == ["Asha", "Meera"]
    assert second.creator_display_name == ""  # unknown to the directory: left empty, not guessed


async def test_names_already_there_and_empty_ids_cost_no_lookup() -> None:
    directory = Directory()
    named = settlement_pb2.Transfer(payer="users/asha", payer_display_name="Asha (me)")
    await label([named, settlement_pb2.Transfer()], directory)
    assert directory.calls == [] and named.payer_display_name == "Asha (me)"


class Servicer:
    async def ListSimplifiedDebts(self, request: object, context: object) -> object:
        return settlement_pb2.ListSimplifiedDebtsResponse(
            transfers=[settlement_pb2.Transfer(payer="users/ravi", payee="users/asha")]
        )

    async def GetMemberBalance(self, request: object, context: object) -> object:
        return settlement_pb2.MemberBalance(user="users/ravi")


async def test_rest_methods_are_labelled_and_internal_ones_are_not() -> None:
    directory = Directory()
    servicer = labelled(Servicer(), directory, "hisaab.settlement.v1.SettlementService")
    debts = await servicer.ListSimplifiedDebts(None, None)
    assert isinstance(debts, settlement_pb2.ListSimplifiedDebtsResponse)
    (transfer,) = debts.transfers
    assert (transfer.payer_display_name, transfer.payee_display_name) == ("Ravi", "Asha")
    internal = await servicer.GetMemberBalance(None, None)
    assert isinstance(internal, settlement_pb2.MemberBalance) and internal.display_name == ""
    assert directory.calls == [["asha", "ravi"]]


async def test_the_walk_goes_only_where_a_person_can_be() -> None:
    # An amount, a date or a split holds no one: the walk does not look inside them.
    assert _people_below(expense_pb2.Expense.DESCRIPTOR) == (("payers", True), ("shares", True))
    # A message that can hold itself (Struct → Value → Struct) ends the search.
    assert _people_below(struct_pb2.Struct.DESCRIPTOR) == ()
    expense = expense_pb2.Expense(
        creator="users/asha", total=money_pb2.Money(currency_code="INR", amount_minor=5)
    )
    directory = Directory()
    await label(expense, directory)
    assert directory.calls == [["asha"]] and expense.creator_display_name == "Asha"
