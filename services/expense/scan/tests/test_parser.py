"""The OCR-lines parser on hand-made engine output: rows, slant, amounts, tax lines, verdict."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date

from services.expense.scan.draft import TaxKind
from services.expense.scan.parser import OcrLine, parse


def page(rows: Sequence[Sequence[tuple[str, float]]], *, slant_degrees: float = 0.0) -> list[OcrLine]:
    """Boxes for rows of (text, x) cells, 30 px apart, the page turned by ``slant_degrees``."""
    turn = math.radians(slant_degrees)
    lines = []
    for r, cells in enumerate(rows):
        for text, x in cells:
            y, width, height = 20 + 30 * r, 12 * len(text), 20

            def at(px: float, py: float) -> tuple[float, float]:
                return (px * math.cos(turn) - py * math.sin(turn), px * math.sin(turn) + py * math.cos(turn))

            box = (at(x, y), at(x + width, y), at(x + width, y + height), at(x, y + height))
            lines.append(OcrLine(text, box, 0.97))
    return lines


INDIAN_BILL = [
    [("SPICE GARDEN", 120)],
    [("GSTIN29ABCDE1234F1Z5", 20)],
    [("Date:14/11/2026", 20), ("Bill No 2873", 300)],
    [("Item", 20), ("Qty", 230), ("Rate", 300), ("Amount", 420)],
    [("Paneer Tikka", 20), ("2", 240), ("250.00", 300), ("500.00", 420)],
    [("ButterNaan", 20), ("4", 240), ("45.00", 300), ("180.00", 420)],
    [("Dal Makhani", 20), ("1", 240), ("1,320.50", 300), ("1,320.50", 420)],
    [("Sub Total", 20), ("2,000.50", 420)],
    [("Service Charge 5%", 20), ("100.03", 420)],
    [("CGST@2.5%", 20), ("50.01", 420)],
    [("SGST@2.5%", 20), ("50.01", 420)],
    [("Grand Total", 20), ("Rs.2,200.55", 400)],
    [("Thank you! Visit again", 60)],
]


def test_an_indian_bill_reads_into_items_gst_and_a_reconciled_total() -> None:
    draft = parse(page(INDIAN_BILL, slant_degrees=1.8))
    assert draft.merchant == "SPICE GARDEN"
    assert draft.date == date(2026, 11, 14)
    assert draft.currency == "INR"
    assert [(i.description, i.quantity, i.amount.amount_minor) for i in draft.items] == [
        ("Paneer Tikka", "2", 50000),
        ("ButterNaan", "4", 18000),
        ("Dal Makhani", "1", 132050),
    ]
    assert draft.items[0].unit_price is not None and draft.items[0].unit_price.amount_minor == 25000
    assert [(t.kind, t.amount.amount_minor) for t in draft.taxes] == [
        (TaxKind.SERVICE_CHARGE, 10003),
        (TaxKind.CGST, 5001),
        (TaxKind.SGST, 5001),
    ]
    assert draft.subtotal is not None and draft.subtotal.amount_minor == 200050
    assert draft.total is not None and draft.total.amount_minor == 220055
    verdict = draft.reconcile()
    assert verdict.balanced and verdict.subtotal_matches and verdict.difference_minor == 0


def test_a_total_that_does_not_add_up_is_reported_not_corrected() -> None:
    rows = [list(r) for r in INDIAN_BILL]
    rows[11] = [("Grand Total", 20), ("₹ 2,210.55", 400)]
    draft = parse(page(rows))
    assert draft.total is not None and draft.total.amount_minor == 221055
    verdict = draft.reconcile()
    assert not verdict.balanced
    assert (verdict.computed_total_minor, verdict.difference_minor) == (220055, 1000)


def test_foreign_bills_with_tip_discount_and_quantity_first_lines() -> None:
    rows = [
        [("The Corner Bistro", 100)],
        [("Date: 03/07/2026", 20)],
        [("2 x Cheeseburger", 20), ("$25.90", 400)],
        [("1xIced Latte", 20), ("5.25", 400)],
        [("Sub Total", 20), ("31.15", 400)],
        [("Discount", 20), ("-3.12", 400)],
        [("Sales Tax 8.875%", 20), ("2.49", 400)],
        [("Tip", 20), ("5.60", 400)],
        [("TOTAL", 20), ("$36.12", 400)],
        [("Cash", 20), ("40.00", 400)],
        [("Change", 20), ("3.88", 400)],
    ]
    draft = parse(page(rows))
    assert draft.currency == "USD"
    assert draft.date == date(2026, 3, 7)  # month first on a dollar bill
    assert [(i.description, i.quantity, i.amount.amount_minor) for i in draft.items] == [
        ("Cheeseburger", "2", 2590),
        ("Iced Latte", "1", 525),
    ]
    assert draft.discount_minor == 312 and draft.tip_minor == 560 and draft.tax_minor == 249
    assert draft.total is not None and draft.total.amount_minor == 3612
    assert draft.reconcile().balanced


def test_decimal_commas_at_prices_and_the_currency_hint() -> None:
    rows = [
        [("Cafe de Flore", 100)],
        [("Cheesecake 3@23,10", 20), ("69,30", 400)],
        [("Croissant", 20), ("3,50", 400)],
        [("VAT 10%", 20), ("7,28", 400)],
        [("TOTAL", 20), ("80,08", 400)],
    ]
    draft = parse(page(rows), currency_hint="EUR")
    assert draft.currency == "EUR" and draft.currency_confidence < 0.5
    assert [(i.description, i.quantity, i.amount.amount_minor) for i in draft.items] == [
        ("Cheesecake", "3", 6930),
        ("Croissant", "", 350),
    ]
    assert [t.kind for t in draft.taxes] == [TaxKind.VAT]
    assert draft.reconcile().balanced


def test_igst_and_indian_digit_grouping() -> None:
    rows = [
        [("FRESH MART", 100)],
        [("Item", 20), ("Amount", 400)],
        [("Television", 20), ("1,05,000.00", 380)],
        [("IGST @ 18%", 20), ("18,900.00", 400)],
        [("Net Amount", 20), ("Rs. 1,23,900.00", 360)],
    ]
    draft = parse(page(rows))
    assert [i.amount.amount_minor for i in draft.items] == [10500000]
    assert [(t.kind, t.amount.amount_minor) for t in draft.taxes] == [(TaxKind.IGST, 1890000)]
    assert draft.total is not None and draft.total.amount_minor == 12390000
    assert draft.reconcile().balanced


def test_nothing_readable_gives_an_empty_unbalanced_draft() -> None:
    draft = parse([])
    assert draft.items == () and draft.total is None
    assert not draft.reconcile().balanced
