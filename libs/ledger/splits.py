"""Split modes: who owes what of an expense, and the postings that record it.

Every mode turns a positive total (minor units) into an `owed` amount per participant
that sums exactly to the total; uneven divisions go through largest-remainder
apportionment seeded by the expense, so recomputing an expense never moves a paisa.

Validation errors are `InvalidSplit` (an `InvalidField`) naming the request field by its
dotted path: `splits[3].percent_bp`, `payers[2].paid_minor`, `items[1].participants`...
A field path without an index (`splits.percent_bp`) means the values disagree as a whole,
e.g. percentages that do not add up to 100 %.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar, Final

from libs.ledger.apportion import equal, largest_remainder
from libs.ledger.postings import Posting, check_balanced
from libs.money import InvalidField, check_amount, exponent

MAX_PARTICIPANTS: Final = 1000
MAX_ITEMS: Final = 500
MAX_SHARE_WEIGHT: Final = 1_000_000
BASIS_POINTS_TOTAL: Final = 10_000  # PERCENT values are basis points: 12.5 % is 1250


class InvalidSplit(InvalidField):
    """The split or payers of an expense are inconsistent or out of bounds."""


class SplitMode(StrEnum):
    EQUAL = "EQUAL"
    EXACT = "EXACT"
    PERCENT = "PERCENT"
    SHARES = "SHARES"
    ADJUSTMENT = "ADJUSTMENT"
    ITEMIZED = "ITEMIZED"


@dataclass(frozen=True, slots=True)
class Payer:
    participant: str
    paid_minor: int


@dataclass(frozen=True, slots=True)
class Share:
    """One participant's value in a split; its meaning depends on the mode."""

    participant: str
    value: int


@dataclass(frozen=True, slots=True)
class EqualSplit:
    """Total divided equally among the chosen participants."""

    participants: Sequence[str]
    mode: ClassVar[SplitMode] = SplitMode.EQUAL


@dataclass(frozen=True, slots=True)
class ExactSplit:
    """Each share's value is the amount owed in minor units; they sum to the total."""

    shares: Sequence[Share]
    mode: ClassVar[SplitMode] = SplitMode.EXACT


@dataclass(frozen=True, slots=True)
class PercentSplit:
    """Each share's value is a percentage in basis points (0..10000); they sum to 10000."""

    shares: Sequence[Share]
    mode: ClassVar[SplitMode] = SplitMode.PERCENT


@dataclass(frozen=True, slots=True)
class SharesSplit:
    """Each share's value is an integer weight (0..MAX_SHARE_WEIGHT), not all zero."""

    shares: Sequence[Share]
    mode: ClassVar[SplitMode] = SplitMode.SHARES


@dataclass(frozen=True, slots=True)
class AdjustmentSplit:
    """Total minus Σadjustments split equally, then each share's value (±minor units) added."""

    shares: Sequence[Share]
    mode: ClassVar[SplitMode] = SplitMode.ADJUSTMENT


@dataclass(frozen=True, slots=True)
class LineItem:
    amount_minor: int
    participants: Sequence[str]  # the item's amount is split equally among these


@dataclass(frozen=True, slots=True)
class ItemizedSplit:
    """Line items each split among their own participants; tax, tip and discount are
    prorated by each person's item subtotal. Σitems + tax + tip - discount = total."""

    items: Sequence[LineItem]
    tax_minor: int = 0
    tip_minor: int = 0
    discount_minor: int = 0
    mode: ClassVar[SplitMode] = SplitMode.ITEMIZED


Split = EqualSplit | ExactSplit | PercentSplit | SharesSplit | AdjustmentSplit | ItemizedSplit

# Request field holding each mode's per-share value, for error paths.
_VALUE_FIELD: Final = {
    SplitMode.EXACT: "amount_minor",
    SplitMode.PERCENT: "percent_bp",
    SplitMode.SHARES: "shares",
    SplitMode.ADJUSTMENT: "adjustment_minor",
}


def _check_ids(ids: Sequence[str], list_field: str, item_field: str) -> None:
    """1..MAX_PARTICIPANTS non-empty, distinct ids; `item_field` is formatted with the index."""
    if not ids:
        raise InvalidSplit(list_field, "at least one participant is required")
    if len(ids) > MAX_PARTICIPANTS:
        raise InvalidSplit(list_field, f"at most {MAX_PARTICIPANTS} participants")
    seen: set[str] = set()
    for i, who in enumerate(ids):
        if not isinstance(who, str) or not who:
            raise InvalidSplit(item_field.format(i), "participant id must be a non-empty string")
        if who in seen:
            raise InvalidSplit(item_field.format(i), f"duplicate participant {who!r}")
        seen.add(who)


def _sum_equals(values: Iterable[int], expected: int, path: str, what: str) -> None:
    got = sum(values)
    if got != expected:
        raise InvalidSplit(path, f"{what} sum to {got}, expected {expected}")


def _owed_shares(
    total: int, split: ExactSplit | PercentSplit | SharesSplit | AdjustmentSplit, seed: str
) -> list[int]:
    shares = split.shares
    _check_ids([s.participant for s in shares], "splits", "splits[{}].participant")
    name = _VALUE_FIELD[split.mode]
    values = [s.value for s in shares]
    paths = [f"splits[{i}].{name}" for i in range(len(shares))]

    if isinstance(split, ExactSplit):
        for v, path in zip(values, paths, strict=True):
            check_amount(v, path)
        _sum_equals(values, total, f"splits.{name}", "amounts")
        return values

    if isinstance(split, PercentSplit):
        for v, path in zip(values, paths, strict=True):
            if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= BASIS_POINTS_TOTAL:
                raise InvalidSplit(path, f"must be an integer from 0 to {BASIS_POINTS_TOTAL} basis points")
        _sum_equals(values, BASIS_POINTS_TOTAL, f"splits.{name}", "percentages (basis points)")
        return largest_remainder(total, values, seed=seed)

    if isinstance(split, SharesSplit):
        for v, path in zip(values, paths, strict=True):
            if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= MAX_SHARE_WEIGHT:
                raise InvalidSplit(path, f"must be an integer from 0 to {MAX_SHARE_WEIGHT}")
        if not any(values):
            raise InvalidSplit(f"splits.{name}", "at least one share must be positive")
        return largest_remainder(total, values, seed=seed)

    # ADJUSTMENT
    for v, path in zip(values, paths, strict=True):
        check_amount(v, path, allow_negative=True)
    base = total - sum(values)
    if base < 0:
        raise InvalidSplit(f"splits.{name}", f"adjustments exceed the total by {-base}")
    owed = [share + adj for share, adj in zip(equal(base, len(values), seed=seed), values, strict=True)]
    for v, path in zip(owed, paths, strict=True):
        if v < 0:
            raise InvalidSplit(path, f"adjustment makes this participant owe {v}")
    return owed


def _owed_itemized(total: int, split: ItemizedSplit, seed: str) -> dict[str, int]:
    items = split.items
    if not items:
        raise InvalidSplit("items", "at least one item is required")
    if len(items) > MAX_ITEMS:
        raise InvalidSplit("items", f"at most {MAX_ITEMS} items")
    tax = check_amount(split.tax_minor, "tax_minor")
    tip = check_amount(split.tip_minor, "tip_minor")
    discount = check_amount(split.discount_minor, "discount_minor")

    subtotal: dict[str, int] = {}
    for i, item in enumerate(items):
        check_amount(item.amount_minor, f"items[{i}].amount_minor", allow_zero=False)
        people = list(item.participants)
        _check_ids(people, f"items[{i}].participants", f"items[{i}].participants[{{}}]")
        for who, share in zip(
            people, equal(item.amount_minor, len(people), seed=f"{seed}/item/{i}"), strict=True
        ):
            subtotal[who] = subtotal.get(who, 0) + share
    if len(subtotal) > MAX_PARTICIPANTS:
        raise InvalidSplit("items", f"at most {MAX_PARTICIPANTS} participants across items")

    items_total = sum(subtotal.values())
    if discount > items_total:
        raise InvalidSplit("discount_minor", "discount exceeds the items' total")
    _sum_equals([items_total, tax, tip, -discount], total, "total_minor", "items + tax + tip - discount")

    people = sorted(subtotal)
    weights = [subtotal[who] for who in people]
    owed = list(weights)
    # Each extra is apportioned on its own so that each one is itself exact; a discount
    # share never exceeds the subtotal it is taken from, since discount <= Σsubtotals.
    for name, amount, sign in (("tax", tax, 1), ("tip", tip, 1), ("discount", discount, -1)):
        for k, part in enumerate(largest_remainder(amount, weights, seed=f"{seed}/{name}")):
            owed[k] += sign * part
    return dict(zip(people, owed, strict=True))


def owed_by_split(total_minor: int, split: Split, *, seed: str) -> dict[str, int]:
    """Owed amount per participant (ordered as given; itemized: by id), summing to the total."""
    check_amount(total_minor, "total_minor", allow_zero=False)
    if isinstance(split, EqualSplit):
        people = list(split.participants)
        _check_ids(people, "splits", "splits[{}].participant")
        return dict(zip(people, equal(total_minor, len(people), seed=seed), strict=True))
    if isinstance(split, ItemizedSplit):
        return _owed_itemized(total_minor, split, seed)
    owed = _owed_shares(total_minor, split, seed)
    return dict(zip((s.participant for s in split.shares), owed, strict=True))


def _check_payers(total: int, payers: Sequence[Payer]) -> None:
    _check_ids([p.participant for p in payers], "payers", "payers[{}].participant")
    for i, p in enumerate(payers):
        check_amount(p.paid_minor, f"payers[{i}].paid_minor")
    _sum_equals((p.paid_minor for p in payers), total, "payers.paid_minor", "payments")


def compute_postings(
    *,
    total_minor: int,
    currency_code: str,
    payers: Sequence[Payer],
    split: Split,
    seed: str,
) -> dict[str, Posting]:
    """Postings of one expense, ordered by participant id; Σpaid = Σowed = total.

    `seed` should be stable for the expense (its id): edits that keep the amounts keep
    every share, and the tie-break still varies from one expense to the next.
    """
    exponent(currency_code, field="currency_code")
    check_amount(total_minor, "total_minor", allow_zero=False)
    _check_payers(total_minor, payers)
    owed = owed_by_split(total_minor, split, seed=seed)
    paid = {p.participant: p.paid_minor for p in payers}
    everyone = sorted(paid.keys() | owed.keys())
    if len(everyone) > MAX_PARTICIPANTS:
        raise InvalidSplit("payers", f"at most {MAX_PARTICIPANTS} people in one expense")
    postings = {who: Posting(paid.get(who, 0), owed.get(who, 0)) for who in everyone}
    check_balanced(postings, total_minor)
    return postings
