"""Debt simplification: settle a set of balances with as few transfers as possible.

Balances are nets in minor units (positive: is owed, negative: owes) summing to zero.
If the members can be partitioned into k disjoint zero-sum groups, each group of m
members settles with m - 1 transfers, so n members need n - k; the minimum number of
transfers is n - k for the largest such k. Finding it is NP-hard in general, so it is
solved exactly up to `EXACT_LIMIT` members (counted after step 1 below) and beyond that
by the shorter of two greedy plans (with and without settling opposite pairs first).

The exact path:

1. A +x/-x pair is its own group in some optimal partition (if x and -x sit in different
   groups, swapping gives {x, -x} plus the two remainders merged; if in the same group,
   splitting it off only adds a group), so such pairs are settled first by one transfer each.
2. For the rest, sets of members are bitmasks and a *set of masks* is one Python int with
   2^n bits (bit m set ⇔ mask m is in the set). Whole-family operations (AND, OR, shifts)
   then run in C over 2^n / 64 machine words instead of 2^n interpreted steps.
   - Z, the zero-sum masks, is built by meet in the middle: subset sums of the low and
     high halves, and for each high subset, the row of low subsets with the opposite sum.
   - L1 = Z; L(j+1) = zero-sum masks that strictly contain a member of Lj. The full set is
     in Lk exactly when it splits into k zero-sum groups (a chain of zero-sum sets
     ∅ ⊂ S1 ⊂ … ⊂ Sk = full gives the groups S1, S2 - S1, …), so the answer is the last
     level holding the full set. "Strictly contains" is a one-element step followed by an
     upward closure, each n shift-and-OR passes over the bitset.
   - The groups are read back down the levels, and each is settled greedily (m - 1 transfers).

At n = 20 a bitset is 128 KiB and a level costs ~40 big-int passes: milliseconds.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from math import lcm
from typing import Final

from libs.ledger.apportion import rank_by_remainder
from libs.money import InvalidField, exponent

# Largest number of balances (after pairing exact opposites) solved exactly.
EXACT_LIMIT: Final = 20


@dataclass(frozen=True, slots=True, order=True)
class Transfer:
    from_: str  # the debtor, who pays
    to: str  # the creditor, who is paid
    amount: int  # minor units, positive


def _check_balances(balances: Mapping[str, int], field: str = "balances") -> None:
    for who, v in balances.items():
        if not isinstance(v, int) or isinstance(v, bool):
            raise InvalidField(f"{field}[{who}]", "balance must be an integer in minor units")
    total = sum(balances.values())
    if total != 0:
        raise InvalidField(field, f"balances sum to {total}, not zero")


def _settle(members: Sequence[tuple[str, int]]) -> list[Transfer]:
    """Largest debtor pays largest creditor until all are settled (ties by id).

    Each transfer zeroes at least one side, and the last zeroes both, so a group of m
    non-zero members that sums to zero takes at most m - 1 transfers.
    """
    creditors = [(-v, who) for who, v in members if v > 0]
    debtors = [(v, who) for who, v in members if v < 0]
    heapq.heapify(creditors)
    heapq.heapify(debtors)
    out: list[Transfer] = []
    while creditors and debtors:
        neg_credit, creditor = heapq.heappop(creditors)
        neg_debt, debtor = heapq.heappop(debtors)
        amount = min(-neg_credit, -neg_debt)
        out.append(Transfer(debtor, creditor, amount))
        if -neg_credit > amount:
            heapq.heappush(creditors, (neg_credit + amount, creditor))
        if -neg_debt > amount:
            heapq.heappush(debtors, (neg_debt + amount, debtor))
    return out


def greedy(balances: Mapping[str, int]) -> list[Transfer]:
    """Largest-debtor-pays-largest-creditor settlement, for comparison and large groups."""
    _check_balances(balances)
    return sorted(_settle(sorted(balances.items())))


def _pair_opposites(members: Sequence[tuple[str, int]]) -> tuple[list[Transfer], list[tuple[str, int]]]:
    """Settle +x/-x pairs directly (in id order); return their transfers and the rest."""
    by_amount: dict[int, list[str]] = defaultdict(list)
    for who, v in members:
        by_amount[v].append(who)
    transfers: list[Transfer] = []
    rest: list[tuple[str, int]] = []
    for amount in sorted(a for a in by_amount if a > 0):
        creditors, debtors = by_amount[amount], by_amount.get(-amount, [])
        paired = min(len(creditors), len(debtors))
        transfers += [
            Transfer(d, c, amount) for c, d in zip(creditors[:paired], debtors[:paired], strict=True)
        ]
        rest += [(c, amount) for c in creditors[paired:]]
        rest += [(d, -amount) for d in debtors[paired:]]
    rest += [(d, a) for a in by_amount if a < 0 and -a not in by_amount for d in by_amount[a]]
    return transfers, sorted(rest)


@lru_cache(maxsize=EXACT_LIMIT + 1)
def _without_bit(n: int) -> tuple[int, ...]:
    """For each element i, the bitset of all masks over n elements that lack element i."""
    size = 1 << n
    out = []
    for i in range(n):
        pattern, width = (1 << (1 << i)) - 1, 1 << (i + 1)
        while width < size:  # tile the block "2^i ones, 2^i zeros" by doubling
            pattern |= pattern << width
            width *= 2
        out.append(pattern)
    return tuple(out)


def _subset_sums(values: Sequence[int]) -> list[int]:
    sums = [0]
    for v in values:
        sums += [s + v for s in sums]
    return sums


def _zero_sum_masks(values: Sequence[int]) -> int:
    """Bitset of the masks whose elements sum to zero (the empty mask included)."""
    n = len(values)
    low = n // 2 if n >= 6 else n  # rows of >= 8 bits, so they join as whole bytes
    rows: dict[int, int] = defaultdict(int)
    for a, s in enumerate(_subset_sums(values[:low])):
        rows[s] |= 1 << a
    high_sums = _subset_sums(values[low:])
    if len(high_sums) == 1:
        return rows.get(0, 0)
    row_bytes = (1 << low) // 8
    blank = bytes(row_bytes)
    as_bytes = {s: r.to_bytes(row_bytes, "little") for s, r in rows.items()}
    # mask = a + 2^low * b; row b holds the low subsets a with sum(a) == -sum(b)
    return int.from_bytes(b"".join(as_bytes.get(-s, blank) for s in high_sums), "little")


def _strictly_above(family: int, without_bit: Sequence[int]) -> int:
    """Bitset of masks that strictly contain some mask of `family`."""
    step = 0
    for i, lacking in enumerate(without_bit):
        step |= (family & lacking) << (1 << i)
    for i, lacking in enumerate(without_bit):  # upward closure
        step |= (step & lacking) << (1 << i)
    return step


def zero_sum_partition(values: Sequence[int]) -> list[list[int]]:
    """Partition the indices of `values` (summing to zero) into the most zero-sum groups.

    Groups are lists of indices; at most EXACT_LIMIT values.
    """
    n = len(values)
    if n > EXACT_LIMIT:
        raise ValueError(f"exact partition is limited to {EXACT_LIMIT} values")
    if sum(values) != 0:
        raise ValueError("values must sum to zero")
    if n == 0:
        return []
    full = (1 << n) - 1
    without_bit = _without_bit(n)
    zero = _zero_sum_masks(values) & ~1  # groups are non-empty
    levels = [zero]
    while True:
        nxt = zero & _strictly_above(levels[-1], without_bit)
        if not (nxt >> full) & 1:
            break
        levels.append(nxt)

    groups: list[int] = []
    current = full
    for below in reversed(levels[:-1]):
        inside = below & ~(1 << current)  # a strict, non-empty zero-sum submask of current...
        for i, lacking in enumerate(without_bit):
            if not (current >> i) & 1:
                inside &= lacking  # ...that uses only elements of current
        sub = (inside & -inside).bit_length() - 1
        groups.append(current ^ sub)
        current = sub
    groups.append(current)
    return sorted([i for i in range(n) if (g >> i) & 1] for g in groups)


def simplify(balances: Mapping[str, int]) -> list[Transfer]:
    """Fewest transfers settling `balances` (exact up to EXACT_LIMIT members left after
    pairing opposites; beyond that, never more than `greedy`), sorted by (from_, to)."""
    _check_balances(balances)
    members = sorted((who, v) for who, v in balances.items() if v != 0)
    transfers, rest = _pair_opposites(members)
    if len(rest) > EXACT_LIMIT:
        # Pairing first is not always better for the greedy rest: keep the shorter plan.
        paired, plain = transfers + _settle(rest), _settle(members)
        return sorted(paired if len(paired) <= len(plain) else plain)
    for group in zero_sum_partition([v for _, v in rest]):
        transfers += _settle([rest[i] for i in group])
    return sorted(transfers)


def _parse_rate(rate: Fraction | int | str, field: str) -> Fraction:
    # floats are refused: a binary float rate would smuggle rounding into money
    if isinstance(rate, bool) or not isinstance(rate, Fraction | int | str):
        raise InvalidField(field, "rate must be a Fraction, an int or a decimal string")
    try:
        value = Fraction(rate)
    except (ValueError, ZeroDivisionError):
        raise InvalidField(field, f"not a rate: {rate!r}") from None
    if value <= 0:
        raise InvalidField(field, "rate must be positive")
    return value


def convert(
    balances_by_currency: Mapping[str, Mapping[str, int]],
    rates: Mapping[str, Fraction | int | str],
    target: str,
    *,
    seed: str = "convert",
) -> dict[str, int]:
    """Balances in several currencies as one set of balances in `target`, summing to zero.

    `rates[code]` is the price of one major unit of `code` in major units of `target`
    (e.g. rates["USD"] = "83.25" with target "INR"); the target itself needs no rate.
    Exact values are floored and the residue (an integer, since the exact values sum to
    zero) is given back one minor unit at a time by largest fractional part.
    """
    target_exp = exponent(target, field="target")
    exact: dict[str, Fraction] = defaultdict(Fraction)
    for code, balances in sorted(balances_by_currency.items()):
        field = f"balances[{code}]"
        source_exp = exponent(code, field=field)
        _check_balances(balances, field)
        rate = Fraction(1) if code == target else _parse_rate(rates.get(code, ""), f"rates[{code}]")
        factor = rate * Fraction(10) ** (target_exp - source_exp)
        for who, v in balances.items():
            exact[who] += v * factor

    people = sorted(exact)
    floors = [exact[who].numerator // exact[who].denominator for who in people]
    fractions = [exact[who] - f for who, f in zip(people, floors, strict=True)]
    scale = lcm(*(f.denominator for f in fractions))
    common = [int(f * scale) for f in fractions]
    for i in rank_by_remainder(common, -sum(floors), seed=seed):
        floors[i] += 1
    return dict(zip(people, floors, strict=True))
