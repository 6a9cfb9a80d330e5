"""Pure expense rules: postings, field paths of errors, edits, schedules and summaries."""

from __future__ import annotations

from datetime import date

import pytest

from libs.errors import InvalidArgument
from libs.ledger.splits import SplitMode
from services.expense import domain, summaries
from services.expense.domain import Category, Draft, Item, SplitSpec, Updates
from services.expense.recurrence import Frequency, Schedule


def draft(split: SplitSpec, total: int = 1000, payers: tuple[tuple[str, int], ...] = (("a", 1000),)) -> Draft:
    return Draft("Dinner", Category.FOOD, date(2024, 5, 1), "", "INR", total, payers, split)


def field_of(d: Draft, prefix: str = "expense") -> str:
    with pytest.raises(InvalidArgument) as err:
        domain.postings(d, seed="e1", prefix=prefix)
    return err.value.field


def test_adjustment_split_maps_to_every_participant() -> None:
    # 1000 + 100 spread equally is 366.67 each; b then owes 100 less, the others nothing extra
    split = SplitSpec(SplitMode.ADJUSTMENT, participants=("a", "b", "c"), entries=(("b", -100),))
    owed = {who: p.owed_minor for who, p in domain.postings(draft(split), seed="e1").items()}
    assert sorted([owed["a"], owed["b"] + 100, owed["c"]]) == [366, 367, 367]


def test_postings_sum_to_the_total_in_every_mode() -> None:
    splits = [
        SplitSpec(SplitMode.EQUAL, participants=("a", "b", "c")),
        SplitSpec(SplitMode.EXACT, entries=(("a", 100), ("b", 900))),
        SplitSpec(SplitMode.PERCENT, entries=(("a", 3333), ("b", 3333), ("c", 3334))),
        SplitSpec(SplitMode.SHARES, entries=(("a", 1), ("b", 2))),
        SplitSpec(SplitMode.ADJUSTMENT, participants=("a", "b"), entries=(("a", 10),)),
        SplitSpec(
            SplitMode.ITEMIZED, items=(Item("x", 700, ("a", "b")), Item("y", 200, ("c",))), tax_minor=100
        ),
    ]
    for split in splits:
        postings = domain.postings(draft(split), seed="e1")
        assert sum(p.owed_minor for p in postings.values()) == 1000
        assert sum(p.paid_minor for p in postings.values()) == 1000


@pytest.mark.parametrize(
    ("split", "total", "payers", "field"),
    [
        (
            SplitSpec(SplitMode.PERCENT, entries=(("a", 5000), ("b", 4000))),
            1000,
            None,
            "expense.split.percent.entries",
        ),
        (
            SplitSpec(SplitMode.PERCENT, entries=(("a", 5000), ("b", 20000))),
            1000,
            None,
            "expense.split.percent.entries[1].basis_points",
        ),
        (SplitSpec(SplitMode.EXACT, entries=(("a", 5),)), 1000, None, "expense.split.exact.entries"),
        (
            SplitSpec(SplitMode.EXACT, entries=(("a", -5),)),
            1000,
            None,
            "expense.split.exact.entries[0].amount_minor",
        ),
        (
            SplitSpec(SplitMode.SHARES, entries=(("a", 1), ("a", 2))),
            1000,
            None,
            "expense.split.shares.entries[1].user",
        ),
        (SplitSpec(SplitMode.EQUAL), 1000, None, "expense.split.equal.participants"),
        (
            SplitSpec(SplitMode.EQUAL, participants=("a", "a")),
            1000,
            None,
            "expense.split.equal.participants[1]",
        ),
        (
            SplitSpec(SplitMode.ADJUSTMENT, participants=("a", "b"), entries=(("b", 5000),)),
            1000,
            None,
            "expense.split.adjustment.adjustments",
        ),
        (
            SplitSpec(SplitMode.ADJUSTMENT, participants=("a", "b"), entries=(("c", 1),)),
            1000,
            None,
            "expense.split.adjustment.adjustments[0].user",
        ),
        (
            SplitSpec(SplitMode.ADJUSTMENT, participants=("a", "b"), entries=(("b", -1500),)),
            1000,
            None,
            "expense.split.adjustment.adjustments[0].adjustment_minor",
        ),
        (
            SplitSpec(SplitMode.ITEMIZED, items=(Item("x", 900, ("a",)),)),
            1000,
            None,
            "expense.split.itemized",
        ),
        (SplitSpec(SplitMode.ITEMIZED), 1000, None, "expense.split.itemized.items"),
        (
            SplitSpec(SplitMode.ITEMIZED, items=(Item("x", 1000, ()),)),
            1000,
            None,
            "expense.split.itemized.items[0].participants",
        ),
        (
            SplitSpec(SplitMode.ITEMIZED, items=(Item("x", 1000, ("a",)),), discount_minor=-1),
            1000,
            None,
            "expense.split.itemized.discount_minor",
        ),
        (SplitSpec(SplitMode.EQUAL, participants=("a",)), 0, None, "expense.total.amount_minor"),
        (SplitSpec(SplitMode.EQUAL, participants=("a",)), 1000, (("a", 600), ("b", 300)), "expense.payers"),
        (
            SplitSpec(SplitMode.EQUAL, participants=("a",)),
            1000,
            (("a", 1000), ("a", 0)),
            "expense.payers[1].paid_minor",
        ),
        (
            SplitSpec(SplitMode.EQUAL, participants=("a",)),
            1000,
            (("a", 500), ("a", 500)),
            "expense.payers[1].user",
        ),
    ],
)
def test_errors_name_the_request_field(
    split: SplitSpec, total: int, payers: tuple[tuple[str, int], ...] | None, field: str
) -> None:
    d = draft(split, total, payers if payers is not None else (("a", total),))
    assert field_of(d) == field


def test_template_errors_carry_their_prefix() -> None:
    d = draft(SplitSpec(SplitMode.EXACT, entries=(("a", 5),)))
    assert field_of(d, "recurring_expense.template") == "recurring_expense.template.split.exact.entries"


def test_user_fields_point_at_the_first_mention() -> None:
    d = draft(
        SplitSpec(SplitMode.ITEMIZED, items=(Item("x", 500, ("b", "c")), Item("y", 500, ("a", "d")))),
        payers=(("a", 1000),),
    )
    assert domain.user_fields(d) == {
        "a": "expense.payers[0].user",
        "b": "expense.split.itemized.items[0].participants[0]",
        "c": "expense.split.itemized.items[0].participants[1]",
        "d": "expense.split.itemized.items[1].participants[1]",
    }


def test_a_single_payer_follows_a_new_total_and_new_payers_replace_the_old() -> None:
    d = draft(SplitSpec(SplitMode.EQUAL, participants=("a", "b")))
    assert domain.apply_updates(d, Updates(total=("USD", 500))).payers == (("a", 500),)
    assert domain.apply_updates(d, Updates(payers=(("b", 1000),))).payers == (("b", 1000),)
    multi = draft(SplitSpec(SplitMode.EQUAL, participants=("a", "b")), payers=(("a", 600), ("b", 400)))
    assert domain.apply_updates(multi, Updates(total=("INR", 2000))).payers == multi.payers


def test_changes_describe_an_edit() -> None:
    old = draft(SplitSpec(SplitMode.EQUAL, participants=("a", "b")), total=120000, payers=(("a", 120000),))
    new = domain.apply_updates(old, Updates(total=("INR", 150000)))
    assert [c["field"] for c in domain.changes(old, new)] == ["amount", "payers"]
    text = summaries.summary("Asha", "edited", {"description": "Dinner", "changes": domain.changes(old, new)})
    assert text == "Asha changed the amount from ₹1,200.00 to ₹1,500.00 and who paid on “Dinner”"


def test_storage_form_round_trips() -> None:
    d = draft(
        SplitSpec(
            SplitMode.ITEMIZED,
            items=(Item("x", 900, ("a", "b")),),
            tax_minor=60,
            tip_minor=50,
            discount_minor=10,
        )
    )
    assert domain.draft_from_json(domain.draft_to_json(d)) == d


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        (120000, "INR", "₹1,200.00"),
        (1234567890, "INR", "₹1,23,45,678.90"),
        (5, "INR", "₹0.05"),
        (-150, "USD", "-$1.50"),
        (1234567, "USD", "$12,345.67"),
        (500, "JPY", "JP¥500"),
        (1125, "KWD", "KWD 1.125"),
    ],
)
def test_money_is_shown_as_people_read_it(amount: int, currency: str, text: str) -> None:
    assert summaries.format_money(amount, currency) == text


@pytest.mark.parametrize(
    ("schedule", "day", "expected"),
    [
        (Schedule(Frequency.MONTHLY, 1, date(2024, 1, 31), None), date(2024, 2, 1), date(2024, 2, 29)),
        (Schedule(Frequency.MONTHLY, 1, date(2024, 1, 31), None), date(2024, 3, 1), date(2024, 3, 31)),
        (Schedule(Frequency.MONTHLY, 1, date(2024, 1, 31), None), date(2024, 4, 30), date(2024, 4, 30)),
        (Schedule(Frequency.MONTHLY, 3, date(2024, 1, 15), None), date(2024, 2, 1), date(2024, 4, 15)),
        (Schedule(Frequency.YEARLY, 1, date(2024, 2, 29), None), date(2024, 3, 1), date(2025, 2, 28)),
        (Schedule(Frequency.WEEKLY, 2, date(2024, 1, 1), None), date(2024, 1, 2), date(2024, 1, 15)),
        (Schedule(Frequency.DAILY, 3, date(2024, 1, 1), None), date(2024, 1, 1), date(2024, 1, 1)),
        (Schedule(Frequency.DAILY, 3, date(2024, 1, 1), None), date(2024, 1, 2), date(2024, 1, 4)),
        (Schedule(Frequency.DAILY, 1, date(2024, 1, 1), date(2024, 1, 10)), date(2024, 1, 11), None),
        (Schedule(Frequency.DAILY, 1, date(2024, 5, 1), None), date(2024, 1, 1), date(2024, 5, 1)),
    ],
)
def test_next_occurrence(schedule: Schedule, day: date, expected: date | None) -> None:
    assert schedule.first_on_or_after(day) == expected
