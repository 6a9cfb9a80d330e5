"""Settle-up rules: settlement postings, debt plans, totals, UPI links. Pure; no I/O."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from urllib.parse import quote

from libs.errors import InvalidArgument
from libs.ledger.postings import Posting
from libs.ledger.simplify import EXACT_LIMIT, simplify
from libs.money import exponent

# Nets by currency, then user: {"INR": {"u1": 500, "u2": -500}}.
Balances = Mapping[str, Mapping[str, int]]

MAX_NOTE = 500
MAX_PAYMENT_REFERENCE = 100
MAX_UPI_NOTE = 50
UPI_CURRENCY = "INR"
MAX_RATE_DECIMALS = 10


class Method(Enum):
    UNSPECIFIED = "unspecified"
    CASH = "cash"
    UPI = "upi"
    OTHER = "other"


@dataclass(frozen=True)
class Settlement:
    id: str
    group_id: str
    payer: str
    payee: str
    currency: str
    amount_minor: int
    transaction_date: date
    note: str
    method: Method
    payment_reference: str
    creator: str
    deleted: bool
    version: int
    created_at: datetime
    deleted_at: datetime | None
    # How it last changed ("created", "deleted" or "restored"), when, and its place in the
    # change feed: (writing transaction, id).
    last_change: str = "created"
    changed_at: datetime | None = None
    change_key: tuple[int, str] = (0, "")

    @property
    def name(self) -> str:
        return f"groups/{self.group_id}/settlements/{self.id}"


@dataclass(frozen=True, order=True)
class Transfer:
    currency: str
    payer: str
    payee: str
    amount_minor: int


def postings(payer: str, payee: str, amount_minor: int) -> dict[str, Posting]:
    """The ledger entry of a payment: the payer paid it, the payee "owes" it.

    The payer's net rises by the amount (their debt shrinks) and the payee's falls by it
    (what they were owed shrinks), exactly as if the payee had been handed the money.
    """
    return {payer: Posting(amount_minor, 0), payee: Posting(0, amount_minor)}


def exactly_solvable(nets: Mapping[str, int]) -> bool:
    """Whether `simplify` solves these nets exactly (not by its greedy fallback).

    Mirrors its first step: +x/-x pairs are settled directly, and the rest is exact up
    to EXACT_LIMIT members.
    """
    counts = Counter(v for v in nets.values() if v != 0)
    paired = sum(min(n, counts.get(-v, 0)) for v, n in counts.items() if v > 0)
    return sum(counts.values()) - 2 * paired <= EXACT_LIMIT


def plan(balances: Balances) -> tuple[list[Transfer], bool]:
    """The fewest transfers per currency, grouped by currency and largest first, and
    whether every currency was solved exactly."""
    transfers: list[Transfer] = []
    optimal = True
    for currency in sorted(balances):
        nets = {u: v for u, v in balances[currency].items() if v != 0}
        optimal = optimal and exactly_solvable(nets)
        transfers += [Transfer(currency, t.from_, t.to, t.amount) for t in simplify(nets)]
    return order(transfers), optimal


def order(transfers: list[Transfer]) -> list[Transfer]:
    # ties broken by payer then payee so the answer is the same on every read
    return sorted(transfers, key=lambda t: (t.currency, -t.amount_minor, t.payer, t.payee))


def totals(nets_by_group: Mapping[str, Mapping[str, int]]) -> tuple[dict[str, int], dict[str, int]]:
    """Per currency: what others owe the caller, and what the caller owes (positive)."""
    owed_to_caller: dict[str, int] = {}
    caller_owes: dict[str, int] = {}
    for nets in nets_by_group.values():
        for currency, net in nets.items():
            if net > 0:
                owed_to_caller[currency] = owed_to_caller.get(currency, 0) + net
            elif net < 0:
                caller_owes[currency] = caller_owes.get(currency, 0) - net
    return dict(sorted(owed_to_caller.items())), dict(sorted(caller_owes.items()))


def largest_first(nets_by_group: Mapping[str, Mapping[str, int]]) -> list[str]:
    """Group ids ordered by their largest absolute net (any currency), then id."""
    return sorted(
        nets_by_group, key=lambda g: (-max((abs(v) for v in nets_by_group[g].values()), default=0), g)
    )


_RATE = re.compile(r"\d+(?:\.\d+)?")


def check_rate(rate: str, field: str) -> str:
    """A positive decimal string with at most MAX_RATE_DECIMALS fractional digits."""
    rate = rate.strip()
    if not _RATE.fullmatch(rate):
        raise InvalidArgument(field, "must be a positive decimal like 83.4150")
    whole, _, frac = rate.partition(".")
    if len(frac) > MAX_RATE_DECIMALS:
        raise InvalidArgument(field, f"at most {MAX_RATE_DECIMALS} fractional digits")
    if int(whole) == 0 and not frac.strip("0"):
        raise InvalidArgument(field, "must be positive")
    return rate


def decimal_text(amount_minor: int, currency: str) -> str:
    """Minor units as a plain decimal, e.g. 12345 INR → "123.45"."""
    exp = exponent(currency)
    whole, frac = divmod(amount_minor, 10**exp)
    return f"{whole}.{frac:0{exp}d}" if exp else str(whole)


def upi_uri(vpa: str, payee_display_name: str, amount_minor: int, note: str) -> str:
    """A UPI deep link (NPCI's `upi://pay` form); every value percent-encoded.

    Spaces become %20, not "+": several UPI apps show a literal "+" in the name.
    """
    params = [("pa", vpa), ("pn", payee_display_name), ("am", decimal_text(amount_minor, UPI_CURRENCY))]
    params.append(("cu", UPI_CURRENCY))
    if note:
        params.append(("tn", note))
    return "upi://pay?" + "&".join(f"{k}={quote(v, safe='@')}" for k, v in params)
