"""The CSV export. Columns (documented in docs/exports.md):

Date, Type, Description, Category, Currency, Total, Paid by, then one column per
member with their net for the line (positive: the group owes them), amounts as
decimals in the currency's units. A final "Balance" line per currency carries
each member's balance.
"""

from __future__ import annotations

import csv
import io

from libs.money import exponent
from services.expense.files.report_data import ExportData

FIXED_COLUMNS = ["Date", "Type", "Description", "Category", "Currency", "Total", "Paid by"]


def decimal(amount_minor: int, currency: str) -> str:
    digits = exponent(currency)
    if digits == 0:
        return str(amount_minor)
    sign = "-" if amount_minor < 0 else ""
    whole, frac = divmod(abs(amount_minor), 10**digits)
    return f"{sign}{whole}.{frac:0{digits}d}"


def render(data: ExportData) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(FIXED_COLUMNS + data.members)
    for line in data.lines:
        writer.writerow(
            [
                line.when.isoformat(),
                line.kind,
                line.description,
                line.category,
                line.currency,
                decimal(line.total_minor, line.currency),
                line.paid_by,
                *[decimal(line.nets.get(m, 0), line.currency) for m in data.members],
            ]
        )
    for currency, nets in sorted(data.balances.items()):
        writer.writerow(
            [data.generated_on.isoformat(), "balance", "Balance", "", currency, "", ""]
            + [decimal(nets.get(m, 0), currency) for m in data.members]
        )
    return out.getvalue().encode("utf-8")
