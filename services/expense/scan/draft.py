"""The itemized draft a scan produces, and its reconciliation. Pure; no I/O.

Every amount is an integer in minor units of the draft's currency, each with the
engine's confidence (0..1). The draft reports what the receipt says; it is never
adjusted to make the numbers agree: `reconcile` says whether they do and by how much not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum


class TaxKind(StrEnum):
    CGST = "CGST"
    SGST = "SGST"
    IGST = "IGST"
    VAT = "VAT"
    SERVICE_CHARGE = "SERVICE_CHARGE"
    # Sales tax, cess, round-off and anything else added on top of the items.
    OTHER = "OTHER"


@dataclass(frozen=True)
class Amount:
    amount_minor: int
    confidence: float
    text: str = ""


@dataclass(frozen=True)
class LineItem:
    description: str
    # Decimal text as printed ("2", "1.5"); "" when the receipt gives none.
    quantity: str
    unit_price: Amount | None
    amount: Amount
    confidence: float


@dataclass(frozen=True)
class TaxLine:
    kind: TaxKind
    label: str
    amount: Amount


@dataclass(frozen=True)
class Reconciliation:
    balanced: bool
    # items + taxes + tip - discounts
    computed_total_minor: int
    # what the receipt prints as its total (0 when none was found)
    printed_total_minor: int
    # printed - computed
    difference_minor: int
    # Σ items against a printed subtotal, when there is one
    subtotal_matches: bool | None


@dataclass(frozen=True)
class Draft:
    merchant: str = ""
    merchant_confidence: float = 0.0
    date: date | None = None
    date_confidence: float = 0.0
    currency: str = ""
    currency_confidence: float = 0.0
    items: tuple[LineItem, ...] = ()
    subtotal: Amount | None = None
    taxes: tuple[TaxLine, ...] = ()
    tip: Amount | None = None
    discounts: tuple[Amount, ...] = ()
    total: Amount | None = None

    @property
    def tax_minor(self) -> int:
        return sum(t.amount.amount_minor for t in self.taxes)

    @property
    def discount_minor(self) -> int:
        return sum(d.amount_minor for d in self.discounts)

    @property
    def tip_minor(self) -> int:
        return self.tip.amount_minor if self.tip else 0

    @property
    def items_minor(self) -> int:
        return sum(i.amount.amount_minor for i in self.items)

    def reconcile(self) -> Reconciliation:
        computed = self.items_minor + self.tax_minor + self.tip_minor - self.discount_minor
        printed = self.total.amount_minor if self.total else 0
        return Reconciliation(
            balanced=self.total is not None and bool(self.items) and computed == printed,
            computed_total_minor=computed,
            printed_total_minor=printed,
            difference_minor=printed - computed,
            subtotal_matches=(self.items_minor == self.subtotal.amount_minor) if self.subtotal else None,
        )


def to_json(draft: Draft) -> dict[str, object]:
    def amount(a: Amount | None) -> object:
        return None if a is None else [a.amount_minor, a.confidence, a.text]

    return {
        "merchant": [draft.merchant, draft.merchant_confidence],
        "date": [draft.date.isoformat() if draft.date else "", draft.date_confidence],
        "currency": [draft.currency, draft.currency_confidence],
        "items": [
            [i.description, i.quantity, amount(i.unit_price), amount(i.amount), i.confidence]
            for i in draft.items
        ],
        "subtotal": amount(draft.subtotal),
        "taxes": [[t.kind.value, t.label, amount(t.amount)] for t in draft.taxes],
        "tip": amount(draft.tip),
        "discounts": [amount(d) for d in draft.discounts],
        "total": amount(draft.total),
    }


def from_json(data: dict[str, object]) -> Draft:
    def amount(value: object) -> Amount | None:
        if not isinstance(value, list):
            return None
        return Amount(int(value[0]), float(value[1]), str(value[2]))

    def required(value: object) -> Amount:
        found = amount(value)
        assert found is not None
        return found

    merchant, date_, currency = (list(data[k]) for k in ("merchant", "date", "currency"))  # type: ignore[call-overload]
    return Draft(
        merchant=str(merchant[0]),
        merchant_confidence=float(merchant[1]),
        date=date.fromisoformat(str(date_[0])) if date_[0] else None,
        date_confidence=float(date_[1]),
        currency=str(currency[0]),
        currency_confidence=float(currency[1]),
        items=tuple(
            LineItem(str(d), str(q), amount(u), required(a), float(c))
            for d, q, u, a, c in data["items"]  # type: ignore[attr-defined]
        ),
        subtotal=amount(data["subtotal"]),
        taxes=tuple(
            TaxLine(TaxKind(k), str(label), required(a))
            for k, label, a in data["taxes"]  # type: ignore[attr-defined]
        ),
        tip=amount(data["tip"]),
        discounts=tuple(required(d) for d in data["discounts"]),  # type: ignore[attr-defined]
        total=amount(data["total"]),
    )


@dataclass(frozen=True)
class ScanRow:
    """A requested scan, as stored (expense.receipt_scans)."""

    id: str
    group_id: str
    source_key: str
    content_type: str
    size_bytes: int
    source_expense_id: str | None
    currency_hint: str
    state: str
    engine: str
    draft: Draft | None
    error: str
    attempts: int
    expense_id: str | None
    creator: str
    created_at: datetime
    completed_at: datetime | None

    @property
    def name(self) -> str:
        return f"groups/{self.group_id}/receiptScans/{self.id}"
