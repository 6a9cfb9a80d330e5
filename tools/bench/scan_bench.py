"""Receipt scanning accuracy and speed: the local engine over generated, labelled receipts."""

from __future__ import annotations

import re
import statistics
import time
from collections import Counter
from typing import Any

from services.expense.scan import parser
from services.expense.scan.draft import Draft
from services.expense.scan.engines import LocalEngine
from tools.bench.receipts import Label, generate

RECEIPTS = 200


def _norm(text: str) -> str:
    # OCR often drops or merges the spaces between words; letters and digits must all match.
    return re.sub(r"[^a-z0-9]", "", text.lower())


def score(label: Label, draft: Draft) -> dict[str, Any]:
    expected = Counter((_norm(i.description), i.amount_minor) for i in label.items)
    found = Counter((_norm(i.description), i.amount.amount_minor) for i in draft.items)
    matched = sum((expected & found).values())
    return {
        "currency_found": False,
        "total_exact": draft.total is not None
        and draft.total.amount_minor == label.total_minor
        and draft.currency == label.currency,
        "reconciled": draft.reconcile().balanced,
        "taxes_exact": sorted(t.amount.amount_minor for t in draft.taxes)
        == sorted(t[2] for t in label.taxes),
        "matched": matched,
        "expected": sum(expected.values()),
        "found": sum(found.values()),
    }


def run(count: int = RECEIPTS, *, verbose: bool = False) -> dict[str, Any]:
    engine = LocalEngine()
    receipts = generate(count)
    engine.read(receipts[0][2])  # load the models outside the timings
    seconds: list[float] = []
    results = []
    for i, (label, style, image) in enumerate(receipts):
        started = time.perf_counter()
        # The app sends the group's currency as the hint; a symbol or code on the bill wins.
        lines = engine.lines(image)
        draft = parser.parse(lines, currency_hint=label.currency)
        seconds.append(time.perf_counter() - started)
        result = score(label, draft)
        result["currency_found"] = parser.detect_currency([ln.text for ln in lines])[1] > 0.5 and (
            parser.detect_currency([ln.text for ln in lines])[0] == label.currency
        )
        results.append(result)
        if verbose and (not result["total_exact"] or result["matched"] != result["expected"]):
            print(i, label.currency, style.layout, style.font.name, result, draft.total, label.total_minor)
    matched = sum(r["matched"] for r in results)
    return {
        "receipts": count,
        "total_exact": sum(r["total_exact"] for r in results) / count,
        "reconciled": sum(r["reconciled"] for r in results) / count,
        "currency_found": sum(r["currency_found"] for r in results) / count,
        "taxes_exact": sum(r["taxes_exact"] for r in results) / count,
        "item_precision": matched / max(1, sum(r["found"] for r in results)),
        "item_recall": matched / max(1, sum(r["expected"] for r in results)),
        "p50_s": statistics.median(seconds),
        "p95_s": statistics.quantiles(seconds, n=20)[18] if len(seconds) >= 20 else max(seconds),
    }


if __name__ == "__main__":
    import sys

    print(run(int(sys.argv[1]) if len(sys.argv) > 1 else RECEIPTS, verbose=True))
