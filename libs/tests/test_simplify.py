from __future__ import annotations

import random
import time
from fractions import Fraction
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from libs.ledger.simplify import EXACT_LIMIT, Transfer, convert, greedy, simplify, zero_sum_partition
from libs.money import InvalidField


def named(values: list[int]) -> dict[str, int]:
    return {f"m{i:02d}": v for i, v in enumerate(values)}


def balanced(rng: random.Random, n: int, low: int, high: int) -> list[int]:
    values = [rng.randint(low, high) for _ in range(n - 1)]
    return [*values, -sum(values)]


def settle(balances: dict[str, int], transfers: list[Transfer]) -> dict[str, int]:
    out = dict(balances)
    for t in transfers:
        assert t.amount > 0
        assert t.from_ != t.to
        out[t.from_] += t.amount
        out[t.to] -= t.amount
    return out


def brute_force_min_transfers(values: list[int]) -> int:
    """n - (most disjoint zero-sum groups), by trying every first group that holds the lowest member."""
    nonzero = [v for v in values if v]
    n = len(nonzero)

    @cache
    def most_groups(mask: int) -> int:
        if mask == 0:
            return 0
        lowest = mask & -mask
        best = 0
        sub = mask
        while sub:
            if sub & lowest and sum(nonzero[i] for i in range(n) if sub >> i & 1) == 0:
                best = max(best, 1 + most_groups(mask ^ sub))
            sub = (sub - 1) & mask
        return best

    return n - most_groups((1 << n) - 1)


def test_worked_example_needs_five_not_six() -> None:
    balances = named([9, -8, 6, -2, 3, 4, -12])
    exact = simplify(balances)
    assert len(exact) == 5
    assert len(greedy(balances)) == 6
    assert set(settle(balances, exact).values()) == {0}
    assert set(settle(balances, greedy(balances)).values()) == {0}


def test_opposites_pair_off_directly() -> None:
    balances = {"a": 500, "b": -500, "c": 300, "d": -300, "e": 0}
    assert simplify(balances) == [Transfer("b", "a", 500), Transfer("d", "c", 300)]


def test_output_is_sorted_and_independent_of_input_order() -> None:
    rng = random.Random(5)
    values = balanced(rng, 12, -50, 50)
    balances = named(values)
    reordered = dict(reversed(list(balances.items())))
    assert simplify(balances) == simplify(reordered)
    assert simplify(balances) == sorted(simplify(balances))


@settings(max_examples=80, deadline=None)
@given(seed=st.integers(0, 2**32), n=st.integers(0, 30), scale=st.sampled_from([5, 100, 10**6, 10**12]))
def test_settles_exactly_and_never_needs_more_than_greedy(seed: int, n: int, scale: int) -> None:
    rng = random.Random(seed)
    balances = named(balanced(rng, n, -scale, scale)) if n else {}
    transfers = simplify(balances)
    assert set(settle(balances, transfers).values()) <= {0}
    assert len(transfers) <= len(greedy(balances))
    nonzero = sum(1 for v in balances.values() if v)
    assert len(transfers) <= max(nonzero - 1, 0)
    # every debtor only pays, every creditor only receives
    for t in transfers:
        assert balances[t.from_] < 0 < balances[t.to]


@settings(max_examples=150, deadline=None)
@given(values=st.lists(st.integers(-6, 6), min_size=1, max_size=7))
def test_matches_brute_force_on_small_sets(values: list[int]) -> None:
    values = [*values, -sum(values)]
    balances = named(values)
    assert len(simplify(balances)) == brute_force_min_transfers(values)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32), n=st.integers(1, 12))
def test_partition_groups_are_zero_sum_and_maximal(seed: int, n: int) -> None:
    values = balanced(random.Random(seed), n, -4, 4)
    groups = zero_sum_partition(values)
    assert sorted(i for g in groups for i in g) == list(range(n))
    assert all(sum(values[i] for i in g) == 0 for g in groups)
    assert n - len(groups) == brute_force_min_transfers(values)


def test_beyond_the_exact_limit_falls_back_to_greedy_and_still_settles() -> None:
    rng = random.Random(11)
    balances = named(balanced(rng, 60, -(10**5), 10**5))
    transfers = simplify(balances)
    assert set(settle(balances, transfers).values()) == {0}
    assert len(transfers) <= len(greedy(balances))


def test_many_opposite_pairs_do_not_count_against_the_limit() -> None:
    rng = random.Random(2)
    core = balanced(rng, EXACT_LIMIT, -30, 30)
    pairs = [v for k in range(1, 16) for v in (1000 + k, -1000 - k)]
    balances = named(core + pairs)
    transfers = simplify(balances)
    assert set(settle(balances, transfers).values()) == {0}
    assert len([t for t in transfers if t.amount > 1000]) == 15
    # 50 members, yet still the exact answer: the core's minimum plus one per pair
    assert len(transfers) == len(simplify(named(core))) + 15


def test_exact_path_for_twenty_balances_is_fast() -> None:
    rng = random.Random(1)
    # small values make many zero-sum subsets, the slow case for the level DP
    cases = [
        [rng.choice([1, 2, 3, -1, -2, -4]) for _ in range(EXACT_LIMIT)],
        balanced(rng, EXACT_LIMIT, -50, 50),
        balanced(rng, EXACT_LIMIT, -(10**9), 10**9),
    ]
    for values in cases:
        values[-1] -= sum(values)
        timings = []
        for _ in range(3):
            start = time.perf_counter()
            zero_sum_partition(values)
            timings.append(time.perf_counter() - start)
        assert min(timings) < 0.25, (values, timings)


def test_unbalanced_input_is_rejected_with_field() -> None:
    with pytest.raises(InvalidField) as err:
        simplify({"a": 10, "b": -9})
    assert err.value.field == "balances"
    with pytest.raises(InvalidField):
        greedy({"a": 1})
    with pytest.raises(ValueError, match="limited"):
        zero_sum_partition([1, -1] * 11)


def test_convert_to_one_currency() -> None:
    balances = {
        "INR": {"a": 10_000, "b": -6_000, "c": -4_000},
        "USD": {"a": -150, "c": 150},  # $1.50
        "JPY": {"b": 333, "c": -333},
    }
    rates: dict[str, Fraction | int | str] = {"USD": "83.25", "JPY": Fraction(5533, 10000)}
    out = convert(balances, rates, "INR")
    assert sum(out.values()) == 0
    exact = {
        "a": Fraction(10_000) - 150 * Fraction("83.25"),
        "b": Fraction(-6_000) + 333 * Fraction(5533, 10000) * 100,
        "c": Fraction(-4_000) + 150 * Fraction("83.25") - 333 * Fraction(5533, 10000) * 100,
    }
    for who, value in exact.items():
        assert abs(out[who] - value) < 1
    assert simplify(out)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32), n=st.integers(1, 40))
def test_convert_stays_balanced(seed: int, n: int) -> None:
    rng = random.Random(seed)
    codes = ["JPY", "INR", "KWD", "USD"]
    by_currency = {c: named(balanced(rng, n, -(10**9), 10**9)) for c in codes}
    rates = {c: Fraction(rng.randint(1, 10**6), rng.randint(1, 10**4)) for c in codes}
    target = rng.choice(codes)
    out = convert(by_currency, rates, target, seed=str(seed))
    assert sum(out.values()) == 0
    assert convert(by_currency, rates, target, seed=str(seed)) == out


@pytest.mark.parametrize(
    ("rates", "field"),
    [
        ({}, "rates[USD]"),
        ({"USD": 83.25}, "rates[USD]"),
        ({"USD": "-1"}, "rates[USD]"),
        ({"USD": "x"}, "rates[USD]"),
    ],
)
def test_convert_rate_errors_name_the_field(rates: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidField) as err:
        convert({"USD": {"a": 1, "b": -1}}, rates, "INR")  # type: ignore[arg-type]
    assert err.value.field == field


def test_convert_currency_errors_name_the_field() -> None:
    with pytest.raises(InvalidField) as err:
        convert({"ABC": {"a": 1, "b": -1}}, {"ABC": 1}, "INR")
    assert err.value.field == "balances[ABC]"
    with pytest.raises(InvalidField) as err:
        convert({"INR": {"a": 1, "b": -1}}, {}, "QQQ")
    assert err.value.field == "target"
    with pytest.raises(InvalidField) as err:
        convert({"INR": {"a": 1}}, {}, "INR")
    assert err.value.field == "balances[INR]"
