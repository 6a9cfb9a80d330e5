"""Proto ⇄ domain for expense-service. Parsing checks shapes and names each bad field.

Sums, percentages and membership are checked later (domain.postings, use cases); this
module only turns messages into values, resource names into ids.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from google.type import date_pb2
from hisaab.common.v1 import money_pb2
from hisaab.expense.v1 import expense_pb2

from libs import etag, names, validation, wire
from libs.errors import InvalidArgument
from libs.ledger.splits import SplitMode
from services.expense import domain
from services.expense.domain import Category, Draft, Expense, Item, SplitSpec, Updates
from services.expense.recurrence import MAX_INTERVAL, Frequency, Rule, Schedule

_PB = expense_pb2.Expense
CATEGORY = {
    _PB.CATEGORY_UNSPECIFIED: Category.OTHER,
    **{getattr(_PB, c.name): c for c in Category},
}
CATEGORY_PB = {c: getattr(_PB, c.name) for c in Category}
FREQUENCY = {getattr(expense_pb2.RecurringExpense, f.name): f for f in Frequency}
FREQUENCY_PB = {f: getattr(expense_pb2.RecurringExpense, f.name) for f in Frequency}
EXPENSE_FIELDS = ("description", "category", "transaction_date", "note", "total", "payers", "split")
RULE_FIELDS = ("frequency", "interval", "end_date", "template", "paused")


def parse_date(value: date_pb2.Date, field: str) -> date:
    try:
        return date(value.year, value.month, value.day)
    except ValueError:
        raise InvalidArgument(field, "must be a full calendar date (year, month and day)") from None


def user_id(name: str, field: str) -> str:
    return names.one(name, "users", field)


def category(value: int, field: str) -> Category:
    found = CATEGORY.get(value)
    if found is None:
        raise InvalidArgument(field, "is not a known category")
    return found


def total(money: money_pb2.Money, field: str) -> tuple[str, int]:
    currency = validation.currency_code(money.currency_code, f"{field}.currency_code")
    return currency, domain.check_total(money.amount_minor, f"{field}.amount_minor")


_PAYERS_REQUIRED = "is required: who paid, and how much each"


def payers(expense: expense_pb2.Expense, prefix: str) -> tuple[tuple[str, int], ...]:
    return tuple(
        (user_id(p.user, f"{prefix}.payers[{i}].user"), p.paid_minor) for i, p in enumerate(expense.payers)
    )


def split(value: expense_pb2.Split, field: str) -> SplitSpec:
    which = value.WhichOneof("mode")
    base = f"{field}.{which}"
    if which == "equal":
        people = value.equal.participants
        return SplitSpec(
            SplitMode.EQUAL,
            participants=tuple(user_id(u, f"{base}.participants[{i}]") for i, u in enumerate(people)),
        )
    if which == "exact":
        return SplitSpec(
            SplitMode.EXACT,
            entries=tuple(
                (user_id(e.user, f"{base}.entries[{i}].user"), e.amount_minor)
                for i, e in enumerate(value.exact.entries)
            ),
        )
    if which == "percent":
        return SplitSpec(
            SplitMode.PERCENT,
            entries=tuple(
                (user_id(e.user, f"{base}.entries[{i}].user"), e.basis_points)
                for i, e in enumerate(value.percent.entries)
            ),
        )
    if which == "shares":
        return SplitSpec(
            SplitMode.SHARES,
            entries=tuple(
                (user_id(e.user, f"{base}.entries[{i}].user"), e.shares)
                for i, e in enumerate(value.shares.entries)
            ),
        )
    if which == "adjustment":
        adj = value.adjustment
        return SplitSpec(
            SplitMode.ADJUSTMENT,
            participants=tuple(
                user_id(u, f"{base}.participants[{i}]") for i, u in enumerate(adj.participants)
            ),
            entries=tuple(
                (user_id(a.user, f"{base}.adjustments[{i}].user"), a.adjustment_minor)
                for i, a in enumerate(adj.adjustments)
            ),
        )
    if which == "itemized":
        it = value.itemized
        return SplitSpec(
            SplitMode.ITEMIZED,
            items=tuple(
                Item(
                    validation.text(item.description, f"{base}.items[{i}].description", max_length=200),
                    item.amount_minor,
                    tuple(
                        user_id(u, f"{base}.items[{i}].participants[{j}]")
                        for j, u in enumerate(item.participants)
                    ),
                )
                for i, item in enumerate(it.items)
            ),
            tax_minor=it.tax_minor,
            tip_minor=it.tip_minor,
            discount_minor=it.discount_minor,
        )
    raise InvalidArgument(field, "choose one of equal, exact, percent, shares, adjustment or itemized")


DEFAULT_PRESET = "default"


def preset_ref(expense: expense_pb2.Expense, group_id: str, prefix: str = "expense") -> str | None:
    """The id of the split preset that gives a new expense its split, None when the split is
    spelled. One of the two must be given: the JSON gateway drops unknown fields, so a
    misspelt split must not quietly become the group's default ("default" names that)."""
    field = f"{prefix}.split_preset"
    if expense.split_preset:
        if expense.HasField("split"):
            raise InvalidArgument(field, "give split or split_preset, not both")
        parts = expense.split_preset.split("/")
        if len(parts) != 4 or parts[0] != "groups" or parts[2] != "splitPresets" or not parts[3]:
            raise InvalidArgument(field, "must look like groups/<id>/splitPresets/<id>")
        if parts[1] != group_id:
            raise InvalidArgument(field, "must be a split preset of this group")
        return parts[3]
    if not expense.HasField("split"):
        raise InvalidArgument(
            f"{prefix}.split",
            f"is required, or a split preset ({DEFAULT_PRESET} is the group's default)",
        )
    return None


def draft(
    expense: expense_pb2.Expense,
    prefix: str,
    *,
    need_date: bool = True,
    resolved_split: SplitSpec | None = None,
) -> Draft:
    """A whole expense from a create request. Who paid is never assumed: the field rules
    refuse a request without payers, and so does this, for a caller that skips them.
    ``resolved_split`` is the split a preset gave, used instead of ``expense.split``."""
    if not expense.HasField("total"):
        raise InvalidArgument(f"{prefix}.total", "is required")
    currency, amount = total(expense.total, f"{prefix}.total")
    if expense.HasField("transaction_date"):
        day = parse_date(expense.transaction_date, f"{prefix}.transaction_date")
    elif need_date:
        raise InvalidArgument(f"{prefix}.transaction_date", "is required")
    else:
        day = date(1970, 1, 1)  # a template's date is replaced by each occurrence's
    if resolved_split is None and expense.split_preset:
        raise InvalidArgument(f"{prefix}.split_preset", "is only accepted when adding an expense")
    if resolved_split is None and not expense.HasField("split"):
        raise InvalidArgument(f"{prefix}.split", "is required")
    paid = payers(expense, prefix)
    if not paid:
        raise InvalidArgument(f"{prefix}.payers", _PAYERS_REQUIRED)
    return Draft(
        description=validation.text(
            expense.description, f"{prefix}.description", max_length=domain.MAX_DESCRIPTION, required=True
        ),
        category=category(expense.category, f"{prefix}.category"),
        transaction_date=day,
        note=validation.text(expense.note, f"{prefix}.note", max_length=domain.MAX_NOTE, multiline=True),
        currency=currency,
        total_minor=amount,
        payers=paid,
        split=resolved_split or split(expense.split, f"{prefix}.split"),
    )


def updates(expense: expense_pb2.Expense, paths: list[str]) -> Updates:
    """The fields an UpdateExpense changes; an empty mask means every field that is set."""
    if expense.split_preset:
        raise InvalidArgument("expense.split_preset", "is only accepted when adding an expense")
    if not paths:
        paths = [f for f in EXPENSE_FIELDS if _is_set(expense, f)]
    values: dict[str, Any] = {}
    for path in paths:
        field = f"expense.{path}"
        if path == "description":
            values[path] = validation.text(
                expense.description, field, max_length=domain.MAX_DESCRIPTION, required=True
            )
        elif path == "category":
            values[path] = category(expense.category, field)
        elif path == "transaction_date":
            values[path] = parse_date(expense.transaction_date, field)
        elif path == "note":
            values[path] = validation.text(expense.note, field, max_length=domain.MAX_NOTE, multiline=True)
        elif path == "total":
            values[path] = total(expense.total, field)
        elif path == "payers":
            values[path] = payers(expense, "expense")
            if not values[path]:
                raise InvalidArgument(field, _PAYERS_REQUIRED)
        elif path == "split":
            values[path] = split(expense.split, field)
        else:
            raise InvalidArgument(
                "update_mask", f"cannot update {path!r}; allowed: {', '.join(EXPENSE_FIELDS)}"
            )
    return Updates(**values)


def _is_set(expense: expense_pb2.Expense, path: str) -> bool:
    if path == "transaction_date":
        return expense.HasField("transaction_date")
    if path == "total":
        return expense.HasField("total")
    if path == "split":
        return expense.HasField("split")
    if path == "payers":
        return len(expense.payers) > 0
    return bool(getattr(expense, path))


def receipt_pb(expense: Expense) -> expense_pb2.Receipt:
    if expense.receipt is None:
        return expense_pb2.Receipt(has_receipt=False)
    return expense_pb2.Receipt(
        has_receipt=True,
        content_type=expense.receipt.content_type,
        size_bytes=expense.receipt.size_bytes,
        upload_time=wire.timestamp(expense.receipt.uploaded_at),
    )


def expense_pb(expense: Expense) -> expense_pb2.Expense:
    d = expense.draft
    proto = expense_pb2.Expense(
        name=expense.name,
        expense_id=expense.id,
        description=d.description,
        category=CATEGORY_PB[d.category],
        transaction_date=wire.date_pb(d.transaction_date),
        note=d.note,
        total=money_pb2.Money(currency_code=d.currency, amount_minor=d.total_minor),
        payers=[expense_pb2.Payer(user=f"users/{u}", paid_minor=p) for u, p in d.payers],
        split=split_pb(d.split),
        shares=[
            expense_pb2.Share(user=f"users/{u}", paid_minor=p.paid_minor, owed_minor=p.owed_minor)
            for u, p in expense.postings.items()
        ],
        receipt=receipt_pb(expense),
        recurring_expense=(
            f"groups/{expense.group_id}/recurringExpenses/{expense.recurring_rule_id}"
            if expense.recurring_rule_id
            else ""
        ),
        creator=f"users/{expense.creator}",
        last_editor=f"users/{expense.last_editor}",
        comment_count=expense.comment_count,
        deleted=expense.deleted,
        create_time=wire.timestamp(expense.created_at),
        update_time=wire.timestamp(expense.updated_at),
        etag=etag.make(expense.name, expense.version),
    )
    if expense.deleted_at is not None:
        proto.delete_time.CopyFrom(wire.timestamp(expense.deleted_at))
    return proto


def _users(ids: tuple[str, ...]) -> list[str]:
    return [f"users/{u}" for u in ids]


def split_pb(spec: SplitSpec) -> expense_pb2.Split:
    s = expense_pb2.Split
    if spec.mode is SplitMode.EQUAL:
        return s(equal=expense_pb2.EqualSplit(participants=_users(spec.participants)))
    if spec.mode is SplitMode.EXACT:
        entries = [expense_pb2.ExactSplit.Entry(user=f"users/{u}", amount_minor=v) for u, v in spec.entries]
        return s(exact=expense_pb2.ExactSplit(entries=entries))
    if spec.mode is SplitMode.PERCENT:
        pct = [expense_pb2.PercentSplit.Entry(user=f"users/{u}", basis_points=v) for u, v in spec.entries]
        return s(percent=expense_pb2.PercentSplit(entries=pct))
    if spec.mode is SplitMode.SHARES:
        shares = [expense_pb2.SharesSplit.Entry(user=f"users/{u}", shares=v) for u, v in spec.entries]
        return s(shares=expense_pb2.SharesSplit(entries=shares))
    if spec.mode is SplitMode.ADJUSTMENT:
        adjustments = [
            expense_pb2.AdjustmentSplit.Adjustment(user=f"users/{u}", adjustment_minor=v)
            for u, v in spec.entries
        ]
        return s(
            adjustment=expense_pb2.AdjustmentSplit(
                participants=_users(spec.participants), adjustments=adjustments
            )
        )
    items = [
        expense_pb2.ItemizedSplit.Item(
            description=i.description, amount_minor=i.amount_minor, participants=_users(i.participants)
        )
        for i in spec.items
    ]
    return s(
        itemized=expense_pb2.ItemizedSplit(
            items=items,
            tax_minor=spec.tax_minor,
            tip_minor=spec.tip_minor,
            discount_minor=spec.discount_minor,
        )
    )


# --- recurring rules ----------------------------------------------------------------------------


def frequency(value: int, field: str) -> Frequency:
    found = FREQUENCY.get(value)
    if found is None:
        raise InvalidArgument(field, "must be DAILY, WEEKLY, MONTHLY or YEARLY")
    return found


def interval(value: int, field: str) -> int:
    if value == 0:
        return 1
    if not 1 <= value <= MAX_INTERVAL:
        raise InvalidArgument(field, f"must be from 1 to {MAX_INTERVAL}")
    return value


def schedule(rule: expense_pb2.RecurringExpense, prefix: str = "recurring_expense") -> Schedule:
    if not rule.HasField("start_date"):
        raise InvalidArgument(f"{prefix}.start_date", "is required")
    start = parse_date(rule.start_date, f"{prefix}.start_date")
    end = parse_date(rule.end_date, f"{prefix}.end_date") if rule.HasField("end_date") else None
    if end is not None and end < start:
        raise InvalidArgument(f"{prefix}.end_date", "must not be before start_date")
    return Schedule(
        frequency(rule.frequency, f"{prefix}.frequency"),
        interval(rule.interval, f"{prefix}.interval"),
        start,
        end,
    )


def rule_pb(rule: Rule) -> expense_pb2.RecurringExpense:
    template = rule.template
    proto = expense_pb2.RecurringExpense(
        name=rule.name,
        frequency=FREQUENCY_PB[rule.schedule.frequency],
        interval=rule.schedule.interval,
        start_date=wire.date_pb(rule.schedule.start_date),
        template=expense_pb2.Expense(
            description=template.description,
            category=CATEGORY_PB[template.category],
            note=template.note,
            total=money_pb2.Money(currency_code=template.currency, amount_minor=template.total_minor),
            payers=[expense_pb2.Payer(user=f"users/{u}", paid_minor=p) for u, p in template.payers],
            split=split_pb(template.split),
        ),
        paused=rule.paused,
        creator=f"users/{rule.creator}",
        create_time=wire.timestamp(rule.created_at),
        update_time=wire.timestamp(rule.updated_at),
        etag=etag.make(rule.name, rule.version),
    )
    if rule.schedule.end_date is not None:
        proto.end_date.CopyFrom(wire.date_pb(rule.schedule.end_date))
    if rule.next_occurrence is not None:
        proto.next_occurrence_date.CopyFrom(wire.date_pb(rule.next_occurrence))
    return proto
