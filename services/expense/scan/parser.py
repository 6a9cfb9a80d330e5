"""OCR lines → itemized draft. Pure; no I/O.

An OCR engine gives text boxes with a confidence each. The parser:

1. straightens the page: the median slant of the boxes is undone, so a photo taken
   a few degrees off still has its label and its amount on one row;
2. groups boxes into rows by vertical position, left to right within a row;
3. finds the currency (symbols, codes, GST wording) and reads every trailing number of
   a row with the money parser, so "Rs. 1,23,456.00" and "12,50 €" are exact;
4. classifies rows by their label: subtotal, tax lines (CGST, SGST, IGST, VAT,
   service charge, other), tip, discounts, total; the rows with an amount between
   the column header (or the top) and the first of those are line items.

Nothing is corrected to make the sums agree; the draft's reconciliation reports it.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from libs import money
from services.expense.scan.draft import Amount, Draft, LineItem, TaxKind, TaxLine

Point = tuple[float, float]


@dataclass(frozen=True)
class OcrLine:
    text: str
    # corners clockwise from top-left, in pixels
    box: tuple[Point, Point, Point, Point]
    confidence: float


@dataclass
class _Cell:
    text: str
    x: float
    y: float
    height: float
    confidence: float


@dataclass
class _Row:
    cells: list[_Cell]

    @property
    def text(self) -> str:
        return " ".join(c.text for c in self.cells)

    @property
    def confidence(self) -> float:
        return min(c.confidence for c in self.cells)


@dataclass(frozen=True)
class _Number:
    token: str
    amount: int
    confidence: float


# --- currency -------------------------------------------------------------------------

_CURRENCY_MARKS: tuple[tuple[str, str], ...] = (
    (r"₹|\brs\b\.?|\binr\b|\bgstin?\b|\b[cs]gst\b|\bigst\b|rupees", "INR"),
    (r"\bs\$|\bsgd\b", "SGD"),
    (r"\ba\$|\baud\b", "AUD"),
    (r"\bc\$|\bcad\b", "CAD"),
    (r"€|(?<![a-z])eur(?![a-z])", "EUR"),
    (r"£|(?<![a-z])gbp(?![a-z])", "GBP"),
    (r"(?<![a-z])aed(?![a-z])|\bdhs?\b|dirham", "AED"),
    (r"[¥￥]|jpy(?![a-z])|円", "JPY"),
    (r"\$|(?<![a-z])usd(?![a-z])", "USD"),
)
_SYMBOL_TOKEN = re.compile(
    r"^(?:rs\.?|inr|usd|eur|gbp|aed|sgd|jpy|aud|cad|dhs?|[₹$€£¥￥]|s\$|a\$|c\$)$", re.I
)


def detect_currency(rows: Sequence[str], hint: str = "") -> tuple[str, float]:
    """The currency the receipt is in, and how sure: from symbols and codes, else the hint."""
    votes: dict[str, int] = {}
    for row in rows:
        lowered = row.lower()
        for pattern, code in _CURRENCY_MARKS:
            if re.search(pattern, lowered):
                votes[code] = votes.get(code, 0) + 1
                break
    if votes:
        best = max(votes, key=lambda c: votes[c])
        return best, min(1.0, 0.6 + 0.1 * votes[best])
    return (hint or "INR"), 0.3


# --- rows -----------------------------------------------------------------------------


def _rows(lines: Sequence[OcrLine]) -> list[_Row]:
    if not lines:
        return []
    slants = []
    for line in lines:
        (x0, y0), (x1, y1) = line.box[0], line.box[1]
        if x1 - x0 > 20:
            slants.append(math.atan2(y1 - y0, x1 - x0))
    angle = statistics.median(slants) if slants else 0.0
    cos, sin = math.cos(-angle), math.sin(-angle)
    cells = []
    for line in lines:
        cx = sum(p[0] for p in line.box) / 4
        cy = sum(p[1] for p in line.box) / 4
        height = abs(line.box[3][1] - line.box[0][1]) or 10.0
        left = min(p[0] for p in line.box)
        x = left * cos - cy * sin
        y = cx * sin + cy * cos
        cells.append(_Cell(line.text.strip(), x, y, height, line.confidence))
    cells.sort(key=lambda c: c.y)
    rows: list[list[_Cell]] = []
    for cell in cells:
        if rows:
            row = rows[-1]
            centre = sum(c.y for c in row) / len(row)
            tolerance = 0.5 * statistics.median(c.height for c in row)
            if abs(cell.y - centre) <= max(tolerance, cell.height * 0.5):
                row.append(cell)
                continue
        rows.append([cell])
    return [_Row(sorted(r, key=lambda c: c.x)) for r in rows]


# --- numbers --------------------------------------------------------------------------

_NUMBERISH = re.compile(
    r"^[(\-]?(?:rs\.?|inr|[₹$€£¥￥]|[sac]\$|[a-z]{3})?[(\-]?\d[\d,.\s]*\)?(?:/-)?-?$", re.I
)


def _split_trailing(row: _Row, currency: str) -> tuple[str, list[_Number]]:
    """The row's label and the numbers printed after it, left to right."""
    tokens: list[tuple[str, float]] = []
    for cell in row.cells:
        tokens += [(t, cell.confidence) for t in cell.text.split()]
    numbers: list[_Number] = []
    while tokens:
        token, confidence = tokens[-1]
        cleaned = token.rstrip(":")
        if _SYMBOL_TOKEN.match(cleaned) and numbers:
            tokens.pop()
            continue
        if cleaned.lower() in ("x", "@", "*") and numbers:
            tokens.pop()
            continue
        quantity = re.fullmatch(r"(\d+(?:\.\d+)?)\s*[x@*]", cleaned, re.I)
        if quantity and numbers:
            numbers.insert(0, _Number(quantity.group(1), 0, confidence))
            tokens.pop()
            continue
        if "%" in cleaned or not _NUMBERISH.match(cleaned):
            glued = re.fullmatch(r"(.*?[a-z:])((?:rs\.?|[₹$€£¥])?\d[\d,.]*[.,]\d{2,3})", cleaned, re.I)
            if glued and not numbers and "%" not in cleaned:
                parsed = _amount(glued.group(2), currency)
                if parsed is not None:
                    numbers.insert(0, _Number(glued.group(2), parsed, confidence))
                    tokens[-1] = (glued.group(1), confidence)
            break
        parsed = _amount(cleaned, currency)
        if parsed is None:
            break
        numbers.insert(0, _Number(cleaned, parsed, confidence))
        tokens.pop()
    label = " ".join(t for t, _ in tokens).strip(" :.-")
    return label, numbers


def _amount(token: str, currency: str) -> int | None:
    try:
        return money.parse_printed_amount(token, currency, allow_negative=True)
    except ValueError:
        return None


def _has_decimals(token: str) -> bool:
    return bool(re.search(r"[.,]\d{1,3}\)?(?:/-)?$", token))


# --- labels ---------------------------------------------------------------------------


def _key(label: str) -> str:
    return re.sub(r"[^a-z]", "", label.lower())


_SUBTOTAL = ("subtotal", "itemtotal", "itemstotal", "taxableamount", "taxablevalue", "foodtotal")
_TOTAL_STRONG = (
    "grandtotal",
    "totaldue",
    "amountdue",
    "netamount",
    "netpayable",
    "amountpayable",
    "totalpayable",
    "billamount",
    "totalamount",
    "balancedue",
    "totalinr",
    "amounttopay",
)
_NOT_TOTAL = (
    "totalqty",
    "totalitems",
    "totalquantity",
    "totaltax",
    "totalgst",
    "totalsaving",
    "totaldiscount",
)
_DISCOUNT = re.compile(r"^(?:discount|disc\.?|offer|coupon|promo|savings?|less)(?![a-z])")
_TIP = re.compile(r"^(?:tip|tips|gratuity)(?![a-z])")
# Rows that carry a number but are no part of the bill's sums: payment, contact and
# bill identifiers. Short words must be the label's first word ("Tel", not "Television").
_SKIP_WORDS = frozenset(
    [
        "cash",
        "card",
        "change",
        "paid",
        "upi",
        "visa",
        "mastercard",
        "tel",
        "ph",
        "phone",
        "mob",
        "mobile",
        "table",
        "date",
        "time",
        "covers",
        "guests",
        "pax",
        "server",
        "order",
        "token",
        "hsn",
        "pin",
        "trn",
        "no",
    ]
)
_SKIP_PREFIXES = ("gstin", "invoice", "billno", "receipt", "thank", "fssai", "tender", "cashier", "vatno")


def _skipped(label: str) -> bool:
    first = re.sub(r"[^a-z]", "", (label.split() or [""])[0].lower())
    return first in _SKIP_WORDS or _key(label).startswith(_SKIP_PREFIXES)


_HEADER = ("item", "description", "particulars", "qty", "quantity", "rate", "price", "amount", "amt")


_SERVICE_CHARGE = re.compile(r"^(?:service\s*(?:charge|chg)|svc\.?\s*(?:charge|chg)?|s\.?\s?c\.?)(?![a-z])")
_OTHER_TAX = re.compile(
    r"^(?:sales\s*tax|service\s*tax|tax(?:es)?|cess|round(?:ed)?\s*off|rounding|gst)(?![a-z])"
)


def _tax_kind(label: str) -> TaxKind | None:
    """The kind of tax line a label names; words must end where the label's words do
    ("VAT 5%", "Tax", but not "Taxi" or "GSTIN")."""
    text = label.lower().strip()
    key = _key(label)
    if key.startswith("gstin"):
        return None
    if key.startswith("cgst"):
        return TaxKind.CGST
    if key.startswith(("sgst", "utgst")):
        return TaxKind.SGST
    if key.startswith("igst"):
        return TaxKind.IGST
    if re.match(r"^vat(?![a-z])", text):
        return TaxKind.VAT
    if _SERVICE_CHARGE.match(text):
        return TaxKind.SERVICE_CHARGE
    if _OTHER_TAX.match(text):
        return TaxKind.OTHER
    return None


def _is_total(key: str) -> int:
    """0 when not a total row; a higher number for a more specific total wording."""
    if key.startswith(_NOT_TOTAL) or key.startswith(_SUBTOTAL):
        return 0
    if key.startswith(_TOTAL_STRONG):
        return 2
    if key.startswith("total") or key == "amount":
        return 1
    return 0


def _is_header(label: str) -> bool:
    words = {_key(w) for w in re.split(r"[\s/|]+", label)} - {""}
    return len(words & set(_HEADER)) >= 2 or _key(label) in ("itemqtyrateamount", "itemqtyamount")


# --- dates ----------------------------------------------------------------------------

_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    )
}
_NUMERIC_DATE = re.compile(r"(?<!\d)(\d{1,4})[/.\-](\d{1,2})[/.\-](\d{2,4})(?!\d)")
_NAMED_DATE = re.compile(r"(?<!\d)(\d{1,2})\s*[- ]?\s*([a-z]{3})[a-z]*[\s,\-']*(\d{2,4})(?!\d)", re.I)
_NAMED_DATE_US = re.compile(r"\b([a-z]{3})[a-z]*\.?\s*(\d{1,2}),?\s*(\d{4})(?!\d)", re.I)


def _year(text: str) -> int:
    value = int(text)
    return value + 2000 if value < 100 else value


def _make_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def find_date(texts: Sequence[str], month_first: bool) -> date | None:
    for text in texts:
        for match in _NUMERIC_DATE.finditer(text):
            a, b, c = match.groups()
            if len(a) == 4:
                found = _make_date(int(a), int(b), int(c))
            elif month_first:
                found = _make_date(_year(c), int(a), int(b)) or _make_date(_year(c), int(b), int(a))
            else:
                found = _make_date(_year(c), int(b), int(a)) or _make_date(_year(c), int(a), int(b))
            if found:
                return found
        for match in _NAMED_DATE.finditer(text):
            month = _MONTHS.get(match.group(2).lower())
            if month and (found := _make_date(_year(match.group(3)), month, int(match.group(1)))):
                return found
        for match in _NAMED_DATE_US.finditer(text):
            month = _MONTHS.get(match.group(1).lower())
            if month and (found := _make_date(int(match.group(3)), month, int(match.group(2)))):
                return found
    return None


# --- items ----------------------------------------------------------------------------


def _decimal(token: str) -> Decimal | None:
    try:
        return Decimal(token.replace(",", ""))
    except InvalidOperation:
        return None


_LEADING_QTY = re.compile(r"^(\d{1,3})(?:\s*[x\u00d7*]\s*|\s+)(?=[^\W\d_])", re.I)
_AT_PRICE = re.compile(r"(\d{1,3})\s*[@x\u00d7]\s*((?:rs\.?|[₹$€£¥￥])?\s*\d[\d,.]*)$", re.I)
_GLUED_DIGITS = re.compile(r"(?<=[^\W\d_])(\d[\d,.]*)$")


def _times(quantity: str, unit: int, amount: int) -> bool:
    q = _decimal(quantity)
    return q is not None and q > 0 and q * unit == amount


def _item(label: str, numbers: list[_Number], confidence: float, currency: str) -> LineItem | None:
    """A line item from a row's label and trailing numbers; quantity and unit price when
    the row shows them (as columns, "2 x item", "item 2 @ 250.00") and they multiply out."""
    amount = numbers[-1]
    if amount.amount <= 0:
        return None
    label = label.strip()
    quantity, unit = "", None
    before = numbers[:-1]
    if (at := _AT_PRICE.search(label)) and (price := _amount(at.group(2), currency)) is not None:
        quantity, unit = at.group(1), _Number(at.group(2), price, amount.confidence)
        label = label[: at.start()].strip()
    elif len(before) >= 2:
        quantity, unit = before[-2].token, before[-1]
    elif len(before) == 1:
        first = before[0]
        glued = _GLUED_DIGITS.search(label)
        if glued and _times(glued.group(1), first.amount, amount.amount):
            quantity, unit, label = glued.group(1), first, label[: glued.start()]
        elif first.token.isdigit() and 0 < int(first.token) < 100 and first.amount != amount.amount:
            # A small whole number before the amount is a quantity ("Naan 4 180.00").
            quantity = first.token
            if amount.amount % int(first.token) == 0:
                unit = _Number("", amount.amount // int(first.token), first.confidence)
        else:
            unit = first
    elif glued := _GLUED_DIGITS.search(label):
        # "ClubSandwich430.80": quantity and unit price printed without a gap.
        digits = glued.group(1)
        for cut in range(1, min(4, len(digits))):
            price = _amount(digits[cut:], currency)
            if price is not None and _times(digits[:cut], price, amount.amount):
                quantity, unit, label = (
                    digits[:cut],
                    _Number(digits[cut:], price, amount.confidence),
                    label[: glued.start()],
                )
                break
    if not quantity and (leading := _LEADING_QTY.match(label)):
        quantity, label = leading.group(1), label[leading.end() :]
        q = int(quantity)
        if amount.amount % q == 0:
            unit = _Number("", amount.amount // q, amount.confidence)
    label = label.strip(" :.-")
    if not re.search(r"[^\W\d_]", label):
        return None
    checked = bool(quantity) and unit is not None and _times(quantity, unit.amount, amount.amount)
    score = confidence * (1.0 if checked or not quantity else 0.8)
    unit_amount = Amount(unit.amount, round(unit.confidence, 3), unit.token) if unit is not None else None
    return LineItem(
        description=label,
        quantity=quantity,
        unit_price=unit_amount,
        amount=Amount(amount.amount, round(amount.confidence, 3), amount.token),
        confidence=round(score, 3),
    )


# --- the draft ------------------------------------------------------------------------


def parse(lines: Sequence[OcrLine], *, currency_hint: str = "") -> Draft:
    rows = _rows(lines)
    texts = [r.text for r in rows]
    currency, currency_confidence = detect_currency(texts, currency_hint)
    parsed = [(row, *_split_trailing(row, currency)) for row in rows]

    merchant, merchant_confidence = "", 0.0
    for row, label, numbers in parsed:
        key = _key(label)
        if key and not numbers and len(key) >= 3 and not _skipped(label):
            merchant, merchant_confidence = row.text.strip(), row.confidence
            break

    header_at = next((i for i, (_, label, _) in enumerate(parsed) if _is_header(label)), None)
    summary_started = False
    items: list[LineItem] = []
    taxes: list[TaxLine] = []
    discounts: list[Amount] = []
    subtotal = tip = total = None
    total_rank = 0
    for i, (row, label, numbers) in enumerate(parsed):
        if not numbers:
            continue
        key = _key(label)
        last = numbers[-1]
        value = Amount(abs(last.amount), round(row.confidence, 3), last.token)
        if key.startswith(_SUBTOTAL):
            subtotal, summary_started = value, True
        elif (kind := _tax_kind(label)) is not None:
            signed = Amount(last.amount, value.confidence, value.text)
            taxes.append(TaxLine(kind, label, signed if kind is TaxKind.OTHER else value))
            summary_started = True
        elif _TIP.match(label.lower()):
            tip, summary_started = value, True
        elif _DISCOUNT.match(label.lower()):
            discounts.append(value)
            summary_started = True
        elif rank := _is_total(key):
            if rank >= total_rank:
                total, total_rank = value, rank
            summary_started = True
        elif (
            summary_started
            or (header_at is not None and i <= header_at)
            or _skipped(label)
            or (header_at is None and money.exponent(currency) and not _has_decimals(last.token))
        ):
            continue
        elif (item := _item(label, numbers, row.confidence, currency)) is not None:
            items.append(item)

    return assemble(
        merchant=merchant,
        merchant_confidence=merchant_confidence,
        date_texts=texts,
        currency=currency,
        currency_confidence=currency_confidence,
        items=items,
        subtotal=subtotal,
        taxes=taxes,
        tip=tip,
        discounts=discounts,
        total=total,
    )


def assemble(
    *,
    merchant: str,
    merchant_confidence: float,
    date_texts: Sequence[str],
    currency: str,
    currency_confidence: float,
    items: Sequence[LineItem],
    subtotal: Amount | None,
    taxes: Sequence[TaxLine],
    tip: Amount | None,
    discounts: Sequence[Amount],
    total: Amount | None,
) -> Draft:
    """The draft both engines end with: the date read from ``date_texts`` the one way."""
    when = find_date(date_texts, month_first=currency == "USD")
    return Draft(
        merchant=merchant,
        merchant_confidence=round(merchant_confidence, 3),
        date=when,
        date_confidence=0.9 if when else 0.0,
        currency=currency,
        currency_confidence=round(currency_confidence, 3),
        items=tuple(items),
        subtotal=subtotal,
        taxes=tuple(taxes),
        tip=tip,
        discounts=tuple(discounts),
        total=total,
    )
