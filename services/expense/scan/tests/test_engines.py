"""The Textract engine against AnalyzeExpense responses shaped like the documented API (botocore's
Stubber checks both the request and the response against the service model), and the local
engine on one generated photo with the real OCR model."""

from __future__ import annotations

import random
from datetime import date
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from services.expense.scan import engines
from services.expense.scan.draft import TaxKind
from tools.bench.receipts import Label, LabelItem, Style, font_files, render


def field(kind: str, value: str, label: str = "", confidence: float = 99.0) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Type": {"Text": kind, "Confidence": 99.5},
        "ValueDetection": {"Text": value, "Confidence": confidence},
    }
    if label:
        out["LabelDetection"] = {"Text": label, "Confidence": 98.0}
    return out


def line(item: str, quantity: str, unit: str, price: str) -> dict[str, Any]:
    return {
        "LineItemExpenseFields": [
            field("ITEM", item),
            field("QUANTITY", quantity),
            field("UNIT_PRICE", unit),
            field("PRICE", price),
        ]
    }


RESPONSE = {
    "DocumentMetadata": {"Pages": 1},
    "ExpenseDocuments": [
        {
            "ExpenseIndex": 1,
            "SummaryFields": [
                field("VENDOR_NAME", "SPICE GARDEN", confidence=97.0),
                field("INVOICE_RECEIPT_DATE", "14/11/2026", "Date"),
                field("SUBTOTAL", "2,000.50", "Sub Total"),
                field("TAX", "50.01", "CGST @ 2.5%"),
                field("TAX", "50.01", "SGST @ 2.5%"),
                field("SERVICE_CHARGE", "100.03", "Service Charge 5%"),
                field("TOTAL", "Rs. 2,200.55", "Grand Total", confidence=96.0),
            ],
            "LineItemGroups": [
                {
                    "LineItemGroupIndex": 1,
                    "LineItems": [
                        line("Paneer Tikka", "2", "250.00", "500.00"),
                        line("Butter Naan", "4", "45.00", "180.00"),
                        line("Dal Makhani", "1", "1,320.50", "1,320.50"),
                    ],
                }
            ],
        }
    ],
}


def test_textract_analyze_expense_maps_to_the_draft() -> None:
    client = boto3.client(
        "textract", region_name="ap-south-1", aws_access_key_id="test", aws_secret_access_key="test"
    )
    stubber = Stubber(client)
    stubber.add_response(
        "analyze_expense",
        RESPONSE,
        {"Document": {"S3Object": {"Bucket": "receipts", "Name": "receipts/g/scans/r.jpg"}}},
    )
    with stubber:
        draft = engines.TextractEngine(client).read(b"", bucket="receipts", key="receipts/g/scans/r.jpg")
    stubber.assert_no_pending_responses()
    assert draft.merchant == "SPICE GARDEN" and draft.merchant_confidence == 0.97
    assert draft.currency == "INR" and draft.date == date(2026, 11, 14)
    assert [(i.description, i.quantity, i.amount.amount_minor) for i in draft.items] == [
        ("Paneer Tikka", "2", 50000),
        ("Butter Naan", "4", 18000),
        ("Dal Makhani", "1", 132050),
    ]
    assert [(t.kind, t.amount.amount_minor) for t in draft.taxes] == [
        (TaxKind.CGST, 5001),
        (TaxKind.SGST, 5001),
        (TaxKind.SERVICE_CHARGE, 10003),
    ]
    assert draft.total is not None and draft.total.amount_minor == 220055
    assert draft.reconcile().balanced


def test_an_empty_textract_answer_is_an_empty_draft() -> None:
    draft = engines.textract_draft({"ExpenseDocuments": []}, "EUR")
    assert draft.currency == "EUR" and not draft.reconcile().balanced


def test_the_engine_is_chosen_by_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(engines.ENGINE_ENV, "local")
    assert engines.from_env().name == "local"
    monkeypatch.setenv(engines.ENGINE_ENV, "paper")
    with pytest.raises(RuntimeError):
        engines.from_env()


def test_the_local_engine_reads_a_generated_photo() -> None:
    label = Label(merchant="Cafe Mocha", day=date(2026, 2, 28), currency="INR")
    label.items = [LabelItem("Masala Dosa", 2, 9000, 18000), LabelItem("Filter Coffee", 1, 4500, 4500)]
    label.taxes = [("CGST", "CGST @ 2.5%", 563), ("SGST", "SGST @ 2.5%", 563)]
    label.total_minor = 22500 + 1126
    style = Style(font_files()[0], 20, 560, "table", True, False, False, -1.5, 10, False, 80)
    draft = engines.LocalEngine().read(render(label, style, random.Random(1)))
    assert [i.amount.amount_minor for i in draft.items] == [18000, 4500]
    assert draft.total is not None and draft.total.amount_minor == 23626
    assert draft.date == date(2026, 2, 28) and draft.reconcile().balanced
