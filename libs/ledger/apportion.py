"""Exact apportionment of an integer amount by weights (largest-remainder method).

Shares always sum to the total: each gets the floor of its exact share, and the units
left over go to the largest fractional parts. Ties among equal fractional parts are broken
by a rotation derived from a seed (an expense id, say), so over many expenses the spare
paisa does not always land on the first person in the list, yet recomputing one expense
always gives the same shares.

Negative totals (refunds, reversals) are apportioned symmetrically:
`largest_remainder(-t, w, seed=s) == [-x for x in largest_remainder(t, w, seed=s)]`, so a
reversal undoes its original to the paisa.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from fractions import Fraction


def rotation(seed: str, n: int) -> int:
    """Deterministic offset in [0, n) derived from `seed`; the first index to win a tie."""
    if n <= 0:
        raise ValueError("n must be positive")
    digest = hashlib.sha256(seed.encode()).digest()
    return int.from_bytes(digest[:8], "big") % n


def rank_by_remainder(remainders: Sequence[int], count: int, *, seed: str) -> list[int]:
    """Indices of the `count` largest remainders, ties in seed-rotated index order."""
    n = len(remainders)
    if not 0 <= count <= n:
        raise ValueError(f"cannot pick {count} of {n}")
    if count == 0:
        return []
    offset = rotation(seed, n)
    order = sorted(range(n), key=lambda i: (-remainders[i], (i - offset) % n))
    return order[:count]


def _integer_weights(weights: Sequence[int] | Sequence[Fraction]) -> list[int]:
    """Scale weights to integers with the same ratios (Fractions by their common denominator)."""
    for w in weights:
        if not isinstance(w, int | Fraction) or isinstance(w, bool):
            raise TypeError(f"weights must be int or Fraction, not {type(w).__name__}")
        if w < 0:
            raise ValueError("weights must not be negative")
    denominators = [w.denominator for w in weights if isinstance(w, Fraction)]
    scale = math.lcm(*denominators) if denominators else 1
    return [int(w * scale) for w in weights]


def largest_remainder(total: int, weights: Sequence[int] | Sequence[Fraction], *, seed: str) -> list[int]:
    """Split `total` into integer shares proportional to `weights`, summing exactly to `total`.

    Zero weights always get zero. A share is never further than one unit from its exact
    proportional value.
    """
    if not weights:
        raise ValueError("at least one weight is required")
    ints = _integer_weights(weights)
    weight_sum = sum(ints)
    if weight_sum == 0:
        raise ValueError("weights must not all be zero")
    if total < 0:
        return [-share for share in largest_remainder(-total, ints, seed=seed)]

    shares: list[int] = []
    remainders: list[int] = []
    for w in ints:
        # remainders share the denominator weight_sum, so comparing them compares fractions
        q, r = divmod(total * w, weight_sum)
        shares.append(q)
        remainders.append(r)
    # Σr / weight_sum is an integer below the count of non-zero remainders, so zero
    # weights (remainder 0) are never picked.
    for i in rank_by_remainder(remainders, total - sum(shares), seed=seed):
        shares[i] += 1
    return shares


def equal(total: int, n: int, *, seed: str) -> list[int]:
    """Equal split of `total` among `n`; shares differ by at most one unit."""
    return largest_remainder(total, [1] * n, seed=seed)
