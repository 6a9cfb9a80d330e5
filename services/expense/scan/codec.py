"""ReceiptScan and its draft, domain → proto; CreateExpenseFromScan request → choices."""

from __future__ import annotations

from hisaab.common.v1 import money_pb2
from hisaab.expense.v1 import expense_pb2

from libs import validation, wire
from services.expense import codec, domain
from services.expense.scan.draft import Amount, Draft, ScanRow, TaxKind
from services.expense.scan.usecases import ExpenseChoices

_STATE = {
    "pending": expense_pb2.ReceiptScan.PENDING,
    "running": expense_pb2.ReceiptScan.RUNNING,
    "succeeded": expense_pb2.ReceiptScan.SUCCEEDED,
    "failed": expense_pb2.ReceiptScan.FAILED,
}
_TAX = {kind: getattr(expense_pb2.ScannedTax, kind.value) for kind in TaxKind}


def _percent(confidence: float) -> int:
    return max(0, min(100, round(confidence * 100)))


def _money(currency: str, value: Amount | None) -> money_pb2.Money | None:
    return None if value is None else money_pb2.Money(currency_code=currency, amount_minor=value.amount_minor)


def _scanned(currency: str, value: Amount | None) -> expense_pb2.ScannedAmount | None:
    if value is None:
        return None
    return expense_pb2.ScannedAmount(
        money=_money(currency, value), confidence_percent=_percent(value.confidence), text=value.text
    )


def draft_pb(draft: Draft) -> expense_pb2.ScanDraft:
    verdict = draft.reconcile()
    cur = draft.currency
    proto = expense_pb2.ScanDraft(
        merchant=draft.merchant,
        merchant_confidence_percent=_percent(draft.merchant_confidence),
        date_confidence_percent=_percent(draft.date_confidence),
        currency_code=cur,
        currency_confidence_percent=_percent(draft.currency_confidence),
        items=[
            expense_pb2.ScannedItem(
                description=i.description,
                quantity=i.quantity,
                unit_price=_money(cur, i.unit_price),
                amount=_money(cur, i.amount),
                amount_text=i.amount.text,
                confidence_percent=_percent(i.confidence),
            )
            for i in draft.items
        ],
        subtotal=_scanned(cur, draft.subtotal),
        taxes=[
            expense_pb2.ScannedTax(
                kind=_TAX[t.kind],
                label=t.label,
                amount=_money(cur, t.amount),
                amount_text=t.amount.text,
                confidence_percent=_percent(t.amount.confidence),
            )
            for t in draft.taxes
        ],
        tip=_scanned(cur, draft.tip),
        discounts=[a for d in draft.discounts if (a := _scanned(cur, d)) is not None],
        total_due=_scanned(cur, draft.total),
        reconciliation=expense_pb2.Reconciliation(
            balanced=verdict.balanced,
            computed_total_minor=verdict.computed_total_minor,
            printed_total_minor=verdict.printed_total_minor,
            difference_minor=verdict.difference_minor,
            subtotal_matches=bool(verdict.subtotal_matches),
        ),
    )
    if draft.date is not None:
        proto.date.CopyFrom(wire.date_pb(draft.date))
    return proto


def scan_pb(row: ScanRow) -> expense_pb2.ReceiptScan:
    proto = expense_pb2.ReceiptScan(
        name=row.name,
        state=_STATE[row.state],
        source_expense=domain.expense_name(row.group_id, row.source_expense_id)
        if row.source_expense_id
        else "",
        error_message=row.error,
        engine=row.engine,
        expense=domain.expense_name(row.group_id, row.expense_id) if row.expense_id else "",
        creator=f"users/{row.creator}",
        create_time=wire.timestamp(row.created_at),
    )
    if row.draft is not None:
        proto.draft.CopyFrom(draft_pb(row.draft))
    if row.completed_at is not None:
        proto.complete_time.CopyFrom(wire.timestamp(row.completed_at))
    return proto


def choices(request: expense_pb2.CreateExpenseFromScanRequest) -> ExpenseChoices:
    assignments = tuple(
        (
            a.item,
            tuple(
                codec.user_id(u, f"assignments[{i}].participants[{j}]") for j, u in enumerate(a.participants)
            ),
        )
        for i, a in enumerate(request.assignments)
    )
    payers = tuple(
        (codec.user_id(p.user, f"payers[{i}].user"), p.paid_minor) for i, p in enumerate(request.payers)
    )
    return ExpenseChoices(
        assignments=assignments,
        payers=payers,
        description=validation.text(request.description, "description", max_length=domain.MAX_DESCRIPTION),
        category=codec.category(request.category, "category"),
        transaction_date=(
            codec.parse_date(request.transaction_date, "transaction_date")
            if request.HasField("transaction_date")
            else None
        ),
        note=validation.text(request.note, "note", max_length=domain.MAX_NOTE),
    )
