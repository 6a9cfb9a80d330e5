"""Scan engines behind one interface: a photo in, an itemized draft out.

- ``LocalEngine``: RapidOCR (ONNX models shipped inside its wheel, CPU only) reads the
  text boxes and ``parser`` turns them into the draft. The default, and what tests and
  ``make bench`` use.
- ``TextractEngine``: Amazon Textract AnalyzeExpense reads the S3 object itself and
  returns structured fields; they are mapped to the same draft, amounts through the
  same money parser.

``HISAAB_SCAN_ENGINE`` (``local`` or ``textract``) picks one.
"""

from __future__ import annotations

import io
import re
import threading
from typing import Any, Protocol

from libs import money, settings
from services.expense.scan import parser
from services.expense.scan.draft import Amount, Draft, LineItem, TaxKind, TaxLine

ENGINE_ENV = "HISAAB_SCAN_ENGINE"


class Engine(Protocol):
    name: str

    def read(self, image: bytes, *, bucket: str, key: str, currency_hint: str) -> Draft:
        """The draft of one receipt (blocking; run it in a thread)."""


class LocalEngine:
    name = "local"

    def __init__(self) -> None:
        self._ocr: Any = None
        self._lock = threading.Lock()

    def _model(self) -> Any:
        with self._lock:
            if self._ocr is None:
                from rapidocr_onnxruntime import RapidOCR  # type: ignore[import-untyped]

                # Shrink only photos larger than 960 px on their long side; the default
                # enlarges small ones to 736 px on the short side, which costs time and,
                # on bills, reads no better.
                self._ocr = RapidOCR(det_limit_type="max", det_limit_side_len=960)
            return self._ocr

    def warm_up(self) -> None:
        import numpy as np

        self._model()(np.full((64, 256, 3), 255, dtype=np.uint8), use_cls=False)

    def lines(self, image: bytes) -> list[parser.OcrLine]:
        import numpy as np
        from PIL import Image, ImageOps

        picture = ImageOps.exif_transpose(Image.open(io.BytesIO(image))).convert("RGB")
        # The slant is undone by the parser; the angle classifier only costs time here.
        found, _ = self._model()(np.asarray(picture), use_cls=False)
        return [
            parser.OcrLine(str(text), tuple((float(x), float(y)) for x, y in box), float(score))  # type: ignore[arg-type]
            for box, text, score in (found or [])
        ]

    def read(self, image: bytes, *, bucket: str = "", key: str = "", currency_hint: str = "") -> Draft:
        return parser.parse(self.lines(image), currency_hint=currency_hint)


# --- Textract -------------------------------------------------------------------------

_SUMMARY_TAX = {"CGST": TaxKind.CGST, "SGST": TaxKind.SGST, "UTGST": TaxKind.SGST, "IGST": TaxKind.IGST}


def _field_text(field: dict[str, Any], part: str) -> tuple[str, float]:
    detection = field.get(part) or {}
    return str(detection.get("Text", "")).strip(), float(detection.get("Confidence", 0.0)) / 100.0


def _tax_kind(label: str) -> TaxKind:
    key = re.sub(r"[^a-z]", "", label.lower())
    for prefix, kind in _SUMMARY_TAX.items():
        if key.startswith(prefix.lower()):
            return kind
    if key.startswith("vat"):
        return TaxKind.VAT
    if key.startswith(("servicecharge", "svc")):
        return TaxKind.SERVICE_CHARGE
    return TaxKind.OTHER


def textract_draft(response: dict[str, Any], currency_hint: str = "") -> Draft:
    """The draft from an AnalyzeExpense response (its first expense document)."""
    documents = response.get("ExpenseDocuments") or []
    if not documents:
        return Draft(currency=currency_hint or "INR")
    doc = documents[0]
    summary = doc.get("SummaryFields") or []
    printed = [_field_text(f, "ValueDetection")[0] for f in summary]
    codes = [str((f.get("Currency") or {}).get("Code", "")).upper() for f in summary if f.get("Currency")]
    currency, currency_confidence = (
        (codes[0], 0.9) if codes else parser.detect_currency(printed, currency_hint)
    )

    def amount(field: dict[str, Any]) -> Amount | None:
        text, confidence = _field_text(field, "ValueDetection")
        try:
            value = money.parse_printed_amount(text, currency, allow_negative=True)
        except ValueError:
            return None
        return Amount(abs(value), round(confidence, 3), text)

    merchant, merchant_confidence = "", 0.0
    total = subtotal = tip = None
    taxes: list[TaxLine] = []
    discounts: list[Amount] = []
    for field in summary:
        kind = str((field.get("Type") or {}).get("Text", ""))
        label, _ = _field_text(field, "LabelDetection")
        if kind == "VENDOR_NAME" and not merchant:
            merchant, merchant_confidence = _field_text(field, "ValueDetection")
            continue
        value = amount(field)
        if value is None:
            continue
        if kind == "TOTAL" and total is None:
            total = value
        elif kind == "SUBTOTAL":
            subtotal = value
        elif kind == "TAX":
            taxes.append(TaxLine(_tax_kind(label), label or "Tax", value))
        elif kind == "SERVICE_CHARGE":
            taxes.append(TaxLine(TaxKind.SERVICE_CHARGE, label or "Service charge", value))
        elif kind == "GRATUITY":
            tip = value
        elif kind == "DISCOUNT":
            discounts.append(value)
    items: list[LineItem] = []
    for group in doc.get("LineItemGroups") or []:
        for line in group.get("LineItems") or []:
            fields = {
                str((f.get("Type") or {}).get("Text", "")): f for f in line.get("LineItemExpenseFields") or []
            }
            price = amount(fields["PRICE"]) if "PRICE" in fields else None
            if price is None:
                continue
            description, confidence = _field_text(fields.get("ITEM", {}), "ValueDetection")
            quantity, _ = _field_text(fields.get("QUANTITY", {}), "ValueDetection")
            unit = amount(fields["UNIT_PRICE"]) if "UNIT_PRICE" in fields else None
            items.append(
                LineItem(description, quantity, unit, price, round(min(confidence, price.confidence), 3))
            )
    dates = [
        _field_text(f, "ValueDetection")[0]
        for f in summary
        if (f.get("Type") or {}).get("Text") == "INVOICE_RECEIPT_DATE"
    ]
    return parser.assemble(
        merchant=merchant,
        merchant_confidence=merchant_confidence,
        date_texts=dates,
        currency=currency,
        currency_confidence=currency_confidence,
        items=items,
        subtotal=subtotal,
        taxes=taxes,
        tip=tip,
        discounts=discounts,
        total=total,
    )


class TextractEngine:
    name = "textract"

    def __init__(self, client: Any):
        self._textract = client

    def read(self, image: bytes, *, bucket: str, key: str, currency_hint: str = "") -> Draft:
        # Textract reads the object from S3 itself: the worker's role needs
        # textract:AnalyzeExpense and s3:GetObject on the receipts bucket, nothing more.
        response = self._textract.analyze_expense(Document={"S3Object": {"Bucket": bucket, "Name": key}})
        return textract_draft(response, currency_hint)


def from_env() -> Engine:
    choice = settings.env_var(ENGINE_ENV, "local").lower() or "local"
    if choice == "local":
        return LocalEngine()
    if choice == "textract":
        from libs import aws

        return TextractEngine(aws.client("textract"))
    raise RuntimeError(f"{ENGINE_ENV} must be 'local' or 'textract', not {choice!r}")
