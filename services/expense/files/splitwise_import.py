"""Reading Splitwise's "export as spreadsheet" CSV into ledger-ready rows.

The file has ``Date, Description, Category, Cost, Currency`` and then one column
per person holding that person's net for the row (positive: they paid more than
their share). Nets are all that a balance needs, so each row becomes postings
whose nets equal the file's: with one payer the row is read exactly as
"payer paid Cost, everyone owes their share"; otherwise the shared part of the
cost is spread evenly on top of the nets. Rows of category "Payment" are
settlements. Rows that cannot be read are reported with their line number (and the
column, for a cell that is not an amount).
"""

from __future__ import annotations

import csv
import hashlib
import io
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date

from libs import money
from libs.ledger.apportion import equal
from libs.ledger.postings import Posting

FIXED = ["Date", "Description", "Category", "Cost", "Currency"]
MAX_ROWS = 20_000
ROW_NAMESPACE = uuid.UUID("7f0c9d52-55a8-4c44-9a5e-3f1b2a6d8e11")

# Splitwise category (lower case) → our category enum name.
CATEGORIES = {
    "general": "OTHER",
    "food and drink": "FOOD",
    "dining out": "FOOD",
    "liquor": "FOOD",
    "groceries": "GROCERIES",
    "rent": "RENT",
    "mortgage": "RENT",
    "electricity": "UTILITIES",
    "heat/gas": "UTILITIES",
    "water": "UTILITIES",
    "tv/phone/internet": "UTILITIES",
    "utilities": "UTILITIES",
    "cleaning": "UTILITIES",
    "trash": "UTILITIES",
    "transportation": "TRANSPORT",
    "bus/train": "TRANSPORT",
    "taxi": "TRANSPORT",
    "parking": "TRANSPORT",
    "car": "TRANSPORT",
    "bicycle": "TRANSPORT",
    "gas/fuel": "FUEL",
    "plane": "TRAVEL",
    "hotel": "LODGING",
    "entertainment": "ENTERTAINMENT",
    "movies": "ENTERTAINMENT",
    "games": "ENTERTAINMENT",
    "music": "ENTERTAINMENT",
    "sports": "ENTERTAINMENT",
    "clothing": "SHOPPING",
    "electronics": "SHOPPING",
    "furniture": "SHOPPING",
    "household supplies": "SHOPPING",
    "medical expenses": "HEALTH",
    "gifts": "GIFTS",
    "education": "EDUCATION",
}


@dataclass(frozen=True)
class ImportRow:
    line: int
    row_id: str  # stable per file content and line: re-importing the same file finds it again
    kind: str  # "expense" or "settlement"
    when: date
    description: str
    category: str
    currency: str
    total_minor: int
    postings: dict[str, Posting]  # person column → posting


@dataclass
class ParsedFile:
    people: list[str] = field(default_factory=list)
    rows: list[ImportRow] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)


class UnreadableFile(ValueError):
    """The file is not a Splitwise export at all (no usable header)."""


def _minor(text: str, currency: str, column: str) -> int:
    """A cell in minor units, read by the one money parser. Splitwise writes every amount
    with two decimals, so zeros past the currency's own decimals (JPY "500.00") are dropped
    first; any other digit there is refused rather than rounded."""
    cell = text.strip()
    if "." in cell:
        cell = cell.rstrip("0").removesuffix(".")
    return money.parse_decimal_to_minor(cell, currency, field=f"column {column!r}", allow_negative=True)


def _postings(nets: dict[str, int], total: int, seed: str) -> tuple[int, dict[str, Posting]]:
    """Postings with exactly these nets and Σpaid = Σowed = the returned total."""
    positive = {p: n for p, n in nets.items() if n > 0}
    paid_out = sum(positive.values())
    if len(positive) == 1:
        (payer, net) = next(iter(positive.items()))
        if net <= total:
            postings = {p: Posting(0, -n) for p, n in nets.items() if n < 0}
            postings[payer] = Posting(total, total - net)
            return total, postings
    total = max(total, paid_out)
    involved = sorted(p for p, n in nets.items() if n != 0)
    spread = dict(zip(involved, equal(total - paid_out, len(involved), seed=seed), strict=True))
    return total, {p: Posting(max(nets[p], 0) + spread[p], max(-nets[p], 0) + spread[p]) for p in involved}


def parse(text: str) -> ParsedFile:
    # newline="" lets the csv module see every line ending (a lone "\r" too), as its docs ask.
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    try:
        return _parse(reader)
    except csv.Error as err:  # e.g. a NUL byte: not a CSV file at all
        raise UnreadableFile(f"the file is not readable as CSV: {err}") from None


def _parse(reader: Iterator[list[str]]) -> ParsedFile:
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise UnreadableFile("the file is empty") from None
    if header[: len(FIXED)] != FIXED or len(header) <= len(FIXED):
        raise UnreadableFile(
            f"the first line must start with {', '.join(FIXED)} and name at least one person"
        )
    people = header[len(FIXED) :]
    if len(set(people)) != len(people):
        raise UnreadableFile("two person columns have the same name")
    parsed = ParsedFile(people=people)
    for line, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue
        if line > MAX_ROWS + 1:
            parsed.skipped.append((line, f"only the first {MAX_ROWS} rows are imported"))
            break
        row, reason = _row(line, cells, people)
        if row is not None:
            parsed.rows.append(row)
        elif reason:
            parsed.skipped.append((line, reason))
    return parsed


def _row(line: int, cells: list[str], people: list[str]) -> tuple[ImportRow | None, str]:
    if len(cells) != len(FIXED) + len(people):
        return None, f"expected {len(FIXED) + len(people)} columns, found {len(cells)}"
    when_text, description, category, cost_text, currency = (c.strip() for c in cells[: len(FIXED)])
    if description.lower() == "total balance":
        return None, ""  # Splitwise's closing summary line, not data
    try:
        when = date.fromisoformat(when_text)
    except ValueError:
        return None, f"date {when_text!r} is not YYYY-MM-DD"
    if not money.is_known(currency):
        return None, f"unknown currency {currency!r}"
    try:
        cost = _minor(cost_text, currency, "Cost")
        nets = {p: _minor(v or "0", currency, p) for p, v in zip(people, cells[len(FIXED) :], strict=True)}
    except money.InvalidAmount as err:
        return None, str(err)
    if sum(nets.values()) != 0:
        return None, "the person amounts do not add up to zero"
    if not any(nets.values()):
        return None, "nobody owes anything on this row"
    if cost <= 0 or cost > money.MAX_AMOUNT_MINOR:
        return None, "the cost must be positive"
    row_id = str(uuid.uuid5(ROW_NAMESPACE, hashlib.sha256(f"{line}|{'|'.join(cells)}".encode()).hexdigest()))
    is_payment = category.lower() == "payment"
    if is_payment:
        nonzero = {p: n for p, n in nets.items() if n}
        if len(nonzero) != 2:
            return None, "a payment must be between exactly two people"
        payer = next(p for p, n in nonzero.items() if n > 0)
        payee = next(p for p, n in nonzero.items() if n < 0)
        amount = nonzero[payer]
        postings = {payer: Posting(amount, 0), payee: Posting(0, amount)}
        total = amount
    else:
        total, postings = _postings(nets, cost, row_id)
    return (
        ImportRow(
            line=line,
            row_id=row_id,
            kind="settlement" if is_payment else "expense",
            when=when,
            description=description[:200] or ("Payment" if is_payment else "Imported expense"),
            category=CATEGORIES.get(category.lower(), "OTHER"),
            currency=currency,
            total_minor=total,
            postings=postings,
        ),
        "",
    )
