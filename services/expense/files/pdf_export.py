"""The PDF report: a summary table, per-member balances, then every line, made with ReportLab.

Amounts are written by the kit's one formatter without the symbol: each table has a currency
column, and the PDF base fonts have no glyph for ₹.
"""

from __future__ import annotations

import io

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from libs.money_format import format_number
from services.expense.files.report_data import ExportData

_GRID = TableStyle(
    [
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef7")),
        ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
        ("FONTSIZE", (0, 0), (-1, -1), 8),
        ("ALIGN", (1, 1), (-1, -1), "RIGHT"),
    ]
)


def render(data: ExportData) -> bytes:
    styles = getSampleStyleSheet()
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, title=f"{data.group_name} — Hisaab report")
    story: list[object] = [
        Paragraph(f"{data.group_name}: expenses and balances", styles["Title"]),
        Paragraph(f"Generated on {data.generated_on.isoformat()}", styles["Normal"]),
        Spacer(1, 12),
        Paragraph("Summary", styles["Heading2"]),
    ]
    totals: dict[str, tuple[int, int]] = {}
    for line in data.lines:
        count, amount = totals.get(line.currency, (0, 0))
        if line.kind == "expense":
            totals[line.currency] = (count + 1, amount + line.total_minor)
    summary = [["Currency", "Expenses", "Total spent"]] + [
        [cur, str(count), format_number(amount, cur)] for cur, (count, amount) in sorted(totals.items())
    ]
    story += [_table(summary), Spacer(1, 12), Paragraph("Balances", styles["Heading2"])]
    balance_rows = [["Member", *sorted(data.balances)]]
    for member in data.members:
        balance_rows.append(
            [member, *[format_number(data.balances[c].get(member, 0), c) for c in sorted(data.balances)]]
        )
    story += [_table(balance_rows), Spacer(1, 12), Paragraph("Expenses and settlements", styles["Heading2"])]
    detail = [["Date", "Description", "Currency", "Total", "Paid by"]] + [
        [
            ln.when.isoformat(),
            ln.description[:60],
            ln.currency,
            format_number(ln.total_minor, ln.currency),
            ln.paid_by[:40],
        ]
        for ln in data.lines
    ]
    story.append(_table(detail))
    doc.build(story)
    return buffer.getvalue()


def _table(rows: list[list[str]]) -> Table:
    table = Table(rows, repeatRows=1)
    table.setStyle(_GRID)
    return table
