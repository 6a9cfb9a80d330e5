from __future__ import annotations

import math
import random
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from libs.ledger.apportion import equal, largest_remainder, rotation
from libs.money import MAX_AMOUNT_MINOR

totals = st.integers(0, MAX_AMOUNT_MINOR)


def random_weights(seed: int, n: int, high: int, zero_ratio: float = 0.2) -> list[int]:
    rng = random.Random(seed)
    weights = [0 if rng.random() < zero_ratio else rng.randint(1, high) for _ in range(n)]
    if not any(weights):
        weights[rng.randrange(n)] = 1
    return weights


@settings(max_examples=150, deadline=None)
@given(
    total=totals,
    n=st.integers(1, 1000),
    high=st.sampled_from([1, 3, 100, 10**6]),
    seed=st.integers(0, 2**32),
)
def test_shares_are_exact_and_proportional(total: int, n: int, high: int, seed: int) -> None:
    weights = random_weights(seed, n, high)
    shares = largest_remainder(total, weights, seed=str(seed))
    weight_sum = sum(weights)
    assert len(shares) == n
    assert sum(shares) == total
    for share, w in zip(shares, weights, strict=True):
        # within one unit of the exact share: |share - total*w/W| < 1
        assert abs(share * weight_sum - total * w) < weight_sum
        if w == 0:
            assert share == 0
    # largest remainder: whoever got the extra unit had a remainder no smaller than anyone who did not
    rems = [(total * w) % weight_sum for w in weights]
    bumped = [r for s, w, r in zip(shares, weights, rems, strict=True) if s * weight_sum > total * w]
    skipped = [r for s, w, r in zip(shares, weights, rems, strict=True) if s * weight_sum < total * w]
    if bumped and skipped:
        assert min(bumped) >= max(skipped)


@settings(max_examples=100, deadline=None)
@given(total=totals, seed=st.text(max_size=12), n=st.integers(1, 1000))
def test_equal_split_differs_by_at_most_one(total: int, seed: str, n: int) -> None:
    shares = equal(total, n, seed=seed)
    assert sum(shares) == total
    assert max(shares) - min(shares) <= 1


@settings(max_examples=100, deadline=None)
@given(total=totals, data=st.data())
def test_fraction_weights_match_scaled_integers(total: int, data: st.DataObject) -> None:
    fracs = data.draw(
        st.lists(st.fractions(min_value=0, max_value=50, max_denominator=40), min_size=1, max_size=30)
    )
    if not any(fracs):
        fracs[0] = Fraction(1, 3)
    scale = math.lcm(*(f.denominator for f in fracs))
    ints = [int(f * scale) for f in fracs]
    assert largest_remainder(total, fracs, seed="s") == largest_remainder(total, ints, seed="s")


@settings(max_examples=100, deadline=None)
@given(total=totals, seed=st.integers(0, 2**32), n=st.integers(1, 200))
def test_negative_totals_are_symmetric(total: int, seed: int, n: int) -> None:
    weights = random_weights(seed, n, 50)
    forward = largest_remainder(total, weights, seed=str(seed))
    assert largest_remainder(-total, weights, seed=str(seed)) == [-s for s in forward]


def test_known_values() -> None:
    assert largest_remainder(100, [1, 1, 1], seed="x") in ([34, 33, 33], [33, 34, 33], [33, 33, 34])
    # 1000 by 1:2:3 is 166.67 / 333.33 / 500: the 0.67 remainder wins
    assert largest_remainder(1000, [1, 2, 3], seed="any") == [167, 333, 500]
    assert largest_remainder(0, [5, 0], seed="x") == [0, 0]
    assert largest_remainder(7, [0, 3, 0], seed="x") == [0, 7, 0]
    assert largest_remainder(10, [Fraction(1, 2), Fraction(1, 2)], seed="x") == [5, 5]


def test_tie_break_is_deterministic_per_seed_and_varies_across_seeds() -> None:
    winners = set()
    for k in range(60):
        seed = f"expense-{k}"
        first = largest_remainder(1, [1, 1, 1, 1], seed=seed)
        assert largest_remainder(1, [1, 1, 1, 1], seed=seed) == first
        winners.add(first.index(1))
    assert winners == {0, 1, 2, 3}


def test_tied_extras_go_to_a_rotated_window() -> None:
    # 5 units over 3 equal weights: two people get 2, starting at the seed's rotation
    for k in range(20):
        seed = f"s{k}"
        start = rotation(seed, 3)
        shares = largest_remainder(5, [1, 1, 1], seed=seed)
        assert shares[start] == 2
        assert shares[(start + 1) % 3] == 2
        assert shares[(start + 2) % 3] == 1


@pytest.mark.parametrize(
    ("weights", "error"),
    [([], ValueError), ([0, 0], ValueError), ([1, -1], ValueError), ([1.0, 2.0], TypeError)],
)
def test_bad_weights(weights: list[int], error: type[Exception]) -> None:
    with pytest.raises(error):
        largest_remainder(10, weights, seed="x")
