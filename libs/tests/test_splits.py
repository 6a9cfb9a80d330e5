from __future__ import annotations

import random
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from libs.ledger.postings import Posting, apply, diff, nets
from libs.ledger.splits import (
    BASIS_POINTS_TOTAL,
    MAX_ITEMS,
    MAX_PARTICIPANTS,
    AdjustmentSplit,
    EqualSplit,
    ExactSplit,
    InvalidSplit,
    ItemizedSplit,
    LineItem,
    Payer,
    PercentSplit,
    Share,
    SharesSplit,
    Split,
    compute_postings,
    owed_by_split,
)
from libs.money import MAX_AMOUNT_MINOR, InvalidField, UnknownCurrency

totals = st.integers(1, MAX_AMOUNT_MINOR)
currencies = st.sampled_from(["JPY", "INR", "USD", "KWD", "BHD"])  # exponents 0, 2, 2, 3, 3
sizes = st.integers(1, MAX_PARTICIPANTS)
seeds = st.integers(0, 2**32)


def ids(n: int) -> list[str]:
    return [f"user-{i:04d}" for i in range(n)]


def cut(total: int, n: int, rng: random.Random) -> list[int]:
    """n non-negative integers summing to total, from random cut points."""
    points = sorted(rng.randint(0, total) for _ in range(n - 1))
    return [b - a for a, b in zip([0, *points], [*points, total], strict=True)]


def postings_for(total: int, currency: str, split: Split, seed: int, payers: int = 1) -> dict[str, Posting]:
    rng = random.Random(seed)
    payer_ids = rng.sample(ids(MAX_PARTICIPANTS), payers)
    paid = cut(total, payers, rng)
    return compute_postings(
        total_minor=total,
        currency_code=currency,
        payers=[Payer(p, a) for p, a in zip(payer_ids, paid, strict=True)],
        split=split,
        seed=f"expense-{seed}",
    )


def assert_balanced(postings: dict[str, Posting], total: int) -> None:
    assert sum(p.paid_minor for p in postings.values()) == total
    assert sum(p.owed_minor for p in postings.values()) == total
    assert sum(p.net_minor for p in postings.values()) == 0
    assert all(p.paid_minor >= 0 and p.owed_minor >= 0 for p in postings.values())
    assert list(postings) == sorted(postings)


@settings(max_examples=60, deadline=None)
@given(total=totals, currency=currencies, n=sizes, seed=seeds, payers=st.integers(1, 5))
def test_equal(total: int, currency: str, n: int, seed: int, payers: int) -> None:
    people = random.Random(seed).sample(ids(MAX_PARTICIPANTS), n)
    postings = postings_for(total, currency, EqualSplit(people), seed, payers)
    assert_balanced(postings, total)
    owed = [postings[p].owed_minor for p in people]
    assert max(owed) - min(owed) <= 1
    assert sum(owed) == total


@settings(max_examples=60, deadline=None)
@given(total=totals, currency=currencies, n=sizes, seed=seeds)
def test_exact(total: int, currency: str, n: int, seed: int) -> None:
    amounts = cut(total, n, random.Random(seed))
    split = ExactSplit([Share(p, a) for p, a in zip(ids(n), amounts, strict=True)])
    postings = postings_for(total, currency, split, seed, payers=3)
    assert_balanced(postings, total)
    assert [postings[p].owed_minor for p in ids(n)] == amounts


@settings(max_examples=60, deadline=None)
@given(total=totals, currency=currencies, n=st.integers(1, 300), seed=seeds)
def test_percent(total: int, currency: str, n: int, seed: int) -> None:
    bps = cut(BASIS_POINTS_TOTAL, n, random.Random(seed))
    split = PercentSplit([Share(p, bp) for p, bp in zip(ids(n), bps, strict=True)])
    postings = postings_for(total, currency, split, seed)
    assert_balanced(postings, total)
    for p, bp in zip(ids(n), bps, strict=True):
        assert abs(postings[p].owed_minor * BASIS_POINTS_TOTAL - total * bp) < BASIS_POINTS_TOTAL
        if bp == 0:
            assert postings[p].owed_minor == 0


@settings(max_examples=60, deadline=None)
@given(total=totals, currency=currencies, n=sizes, seed=seeds)
def test_shares(total: int, currency: str, n: int, seed: int) -> None:
    rng = random.Random(seed)
    weights = [rng.randint(0, 5) for _ in range(n)]
    weights[rng.randrange(n)] = rng.randint(1, 5)
    split = SharesSplit([Share(p, w) for p, w in zip(ids(n), weights, strict=True)])
    postings = postings_for(total, currency, split, seed)
    assert_balanced(postings, total)
    w_sum = sum(weights)
    for p, w in zip(ids(n), weights, strict=True):
        assert abs(postings[p].owed_minor * w_sum - total * w) < w_sum


@settings(max_examples=60, deadline=None)
@given(total=totals, currency=currencies, n=sizes, seed=seeds)
def test_adjustment(total: int, currency: str, n: int, seed: int) -> None:
    rng = random.Random(seed)
    # positive adjustments within the total, and small discounts that keep everyone at >= 0
    adjustments = cut(rng.randint(0, total), n, rng)
    base_share = (total - sum(adjustments)) // n
    adjustments = [a - rng.randint(0, min(base_share, 100)) if rng.random() < 0.3 else a for a in adjustments]
    split = AdjustmentSplit([Share(p, a) for p, a in zip(ids(n), adjustments, strict=True)])
    postings = postings_for(total, currency, split, seed)
    assert_balanced(postings, total)
    bases = [postings[p].owed_minor - a for p, a in zip(ids(n), adjustments, strict=True)]
    assert max(bases) - min(bases) <= 1
    assert sum(bases) == total - sum(adjustments)


def test_adjustment_example() -> None:
    # 1000 among three, A pays 100 more for an extra drink, C 40 less
    split = AdjustmentSplit([Share("a", 100), Share("b", 0), Share("c", -40)])
    for seed in ("e1", "e2", "e3", "e4"):
        owed = owed_by_split(1000, split, seed=seed)
        assert sum(owed.values()) == 1000
        # 940 left after adjustments: 313.33 each, one person carries the spare unit
        assert sorted([owed["a"] - 100, owed["b"], owed["c"] + 40]) == [313, 313, 314]


@settings(max_examples=40, deadline=None)
@given(currency=currencies, seed=seeds, n_items=st.integers(1, MAX_ITEMS), n_people=st.integers(1, 60))
def test_itemized(currency: str, seed: int, n_items: int, n_people: int) -> None:
    rng = random.Random(seed)
    people = ids(n_people)
    items = []
    exact_subtotal = dict.fromkeys(people, 0)
    for _ in range(n_items):
        who = rng.sample(people, rng.randint(1, n_people))
        each = rng.randint(1, 10**6)  # divisible amounts, so each subtotal is known exactly
        items.append(LineItem(each * len(who), who))
        for p in who:
            exact_subtotal[p] += each
    items_total = sum(exact_subtotal.values())
    tax, tip = rng.randint(0, items_total // 5), rng.randint(0, 10**5)
    discount = rng.randint(0, items_total)
    total = items_total + tax + tip - discount
    if total < 1:
        tip += 1 - total
        total = 1
    split = ItemizedSplit(items, tax_minor=tax, tip_minor=tip, discount_minor=discount)
    postings = postings_for(total, currency, split, seed)
    assert_balanced(postings, total)
    for p, sub in exact_subtotal.items():
        if sub == 0:
            assert p not in postings or postings[p].owed_minor == 0
            continue
        extra = postings[p].owed_minor - sub
        exact_extra_num = (tax + tip - discount) * sub  # over items_total
        # each of tax, tip and discount is off by less than one unit
        assert abs(extra * items_total - exact_extra_num) < 3 * items_total


def test_itemized_example() -> None:
    # A and B share a 300 pizza, C has a 200 pasta; 50 tax is prorated 300:300... by subtotal
    split = ItemizedSplit(
        [LineItem(300, ["a", "b"]), LineItem(200, ["c"])], tax_minor=50, tip_minor=30, discount_minor=100
    )
    owed = owed_by_split(480, split, seed="dinner")
    # subtotals 150/150/200 of 500; tax 15/15/20, tip 9/9/12, discount 30/30/40
    assert owed == {"a": 144, "b": 144, "c": 192}


def test_multiple_payers_and_payer_outside_split() -> None:
    postings = compute_postings(
        total_minor=900,
        currency_code="INR",
        payers=[Payer("host", 600), Payer("b", 300)],
        split=EqualSplit(["a", "b", "c"]),
        seed="trip-1",
    )
    assert postings == {
        "a": Posting(0, 300),
        "b": Posting(300, 300),
        "c": Posting(0, 300),
        "host": Posting(600, 0),
    }
    assert nets(postings) == {"a": -300, "c": -300, "host": 600}


def test_same_seed_same_postings_and_seed_moves_the_spare_unit() -> None:
    def owed(seed: str) -> dict[str, int]:
        return owed_by_split(100, EqualSplit(["a", "b", "c"]), seed=seed)

    assert owed("x") == owed("x")
    extra = {max(o, key=lambda k: o[k]) for o in (owed(f"e{k}") for k in range(40))}
    assert extra == {"a", "b", "c"}


def test_edit_diff_delete_and_restore() -> None:
    old = compute_postings(
        total_minor=1000,
        currency_code="INR",
        payers=[Payer("a", 1000)],
        split=EqualSplit(["a", "b"]),
        seed="e",
    )
    new = compute_postings(
        total_minor=1200,
        currency_code="INR",
        payers=[Payer("c", 1200)],
        split=EqualSplit(["a", "b", "c"]),
        seed="e",
    )
    delta = diff(old, new)
    assert sum(delta.values()) == 0
    assert apply(nets(old), delta) == nets(new)
    assert apply(nets(old), diff(old, {})) == {}
    assert diff({}, old) == nets(old)
    assert diff(old, old) == {}


def err_field(
    fn_split: Split, total: int = 100, payers: Sequence[Payer] | None = None, currency: str = "INR"
) -> str:
    with pytest.raises(InvalidField) as err:
        compute_postings(
            total_minor=total,
            currency_code=currency,
            payers=[Payer("a", total)] if payers is None else payers,
            split=fn_split,
            seed="e",
        )
    assert isinstance(err.value, ValueError)
    return err.value.field


many = ids(MAX_PARTICIPANTS + 1)


@pytest.mark.parametrize(
    ("split", "field"),
    [
        (ExactSplit([Share("a", 60), Share("b", 30)]), "splits.amount_minor"),
        (ExactSplit([Share("a", 60), Share("b", -30)]), "splits[1].amount_minor"),
        (PercentSplit([Share("a", 5000), Share("b", 4000)]), "splits.percent_bp"),
        (PercentSplit([Share("a", 12000), Share("b", -2000)]), "splits[0].percent_bp"),
        (SharesSplit([Share("a", 0), Share("b", 0)]), "splits.shares"),
        (SharesSplit([Share("a", 1), Share("b", -1)]), "splits[1].shares"),
        (AdjustmentSplit([Share("a", 80), Share("b", 30)]), "splits.adjustment_minor"),
        (AdjustmentSplit([Share("a", 90), Share("b", -60)]), "splits[1].adjustment_minor"),
        (EqualSplit([]), "splits"),
        (EqualSplit(many), "splits"),
        (EqualSplit(["a", "b", "a"]), "splits[2].participant"),
        (EqualSplit(["a", ""]), "splits[1].participant"),
        (ExactSplit([Share("a", 50), Share("a", 50)]), "splits[1].participant"),
        (ItemizedSplit([]), "items"),
        (ItemizedSplit([LineItem(1, ["a"])] * (MAX_ITEMS + 1)), "items"),
        (ItemizedSplit([LineItem(50, ["a"]), LineItem(50, [])]), "items[1].participants"),
        (ItemizedSplit([LineItem(100, ["a", "b", "a"])]), "items[0].participants[2]"),
        (ItemizedSplit([LineItem(100, ["a"]), LineItem(0, ["a"])]), "items[1].amount_minor"),
        (ItemizedSplit([LineItem(90, ["a"])]), "total_minor"),
        (ItemizedSplit([LineItem(100, ["a"])], tax_minor=-1), "tax_minor"),
        (ItemizedSplit([LineItem(100, ["a"])], discount_minor=200, tip_minor=200), "discount_minor"),
        (ItemizedSplit([LineItem(100, many)]), "items[0].participants"),
    ],
)
def test_validation_names_the_field(split: Split, field: str) -> None:
    assert err_field(split) == field


def test_itemized_participants_across_items_are_capped() -> None:
    people = ids(MAX_PARTICIPANTS + 1)
    items = [LineItem(1, people[i : i + 3]) for i in range(0, len(people), 3)]
    assert err_field(ItemizedSplit(items), total=len(items)) == "items"


@pytest.mark.parametrize(
    ("total", "payers", "field"),
    [
        (0, [Payer("a", 0)], "total_minor"),
        (-100, [Payer("a", -100)], "total_minor"),
        (MAX_AMOUNT_MINOR + 1, [Payer("a", MAX_AMOUNT_MINOR + 1)], "total_minor"),
        (100, [Payer("a", 60), Payer("b", 30)], "payers.paid_minor"),
        (100, [Payer("a", 60), Payer("b", 50), Payer("c", -10)], "payers[2].paid_minor"),
        (100, [Payer("a", 60), Payer("a", 40)], "payers[1].participant"),
        (100, [], "payers"),
    ],
)
def test_payer_and_total_validation(total: int, payers: list[Payer], field: str) -> None:
    assert err_field(EqualSplit(["a", "b"]), total=total, payers=payers) == field


def test_unknown_currency() -> None:
    with pytest.raises(UnknownCurrency) as err:
        compute_postings(
            total_minor=100, currency_code="XYZ", payers=[Payer("a", 100)], split=EqualSplit(["a"]), seed="e"
        )
    assert err.value.field == "currency_code"
    assert isinstance(err.value, InvalidField)


def test_invalid_split_is_an_invalid_field() -> None:
    assert issubclass(InvalidSplit, InvalidField)
    assert issubclass(InvalidSplit, ValueError)


def test_limits_are_accepted() -> None:
    people = ids(MAX_PARTICIPANTS)
    total = MAX_AMOUNT_MINOR - 1
    postings = postings_for(total, "KWD", EqualSplit(people), seed=7, payers=5)
    assert_balanced(postings, total)
    items = [
        LineItem(MAX_AMOUNT_MINOR // MAX_ITEMS, people[i % 990 : i % 990 + 10]) for i in range(MAX_ITEMS)
    ]
    postings = postings_for(MAX_AMOUNT_MINOR, "JPY", ItemizedSplit(items), seed=8)
    assert_balanced(postings, MAX_AMOUNT_MINOR)
