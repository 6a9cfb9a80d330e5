"""Expenses as plain values: what was spent, who paid, how it is split. Pure; no I/O.

A `Draft` is everything a user says about an expense. `postings()` turns it into the
ledger postings through the shared split math (`libs.ledger.splits`), and translates
that module's field paths ("splits[2].percent_bp") into the request's own field paths
("expense.split.percent.entries[2].basis_points") so every INVALID_ARGUMENT names a
field the client actually sent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Final

from google.protobuf.message import Message
from hisaab.events.v1 import events_pb2 as ev

from libs import money
from libs.errors import FailedPrecondition, InvalidArgument
from libs.ledger import splits as ledger_splits
from libs.ledger.postings import Posting
from libs.ledger.splits import SplitMode

MAX_DESCRIPTION: Final = 200
MAX_NOTE: Final = 2000
MAX_COMMENT: Final = 2000


class Category(StrEnum):
    FOOD = "food"
    GROCERIES = "groceries"
    RENT = "rent"
    UTILITIES = "utilities"
    TRANSPORT = "transport"
    FUEL = "fuel"
    TRAVEL = "travel"
    LODGING = "lodging"
    ENTERTAINMENT = "entertainment"
    SHOPPING = "shopping"
    HEALTH = "health"
    GIFTS = "gifts"
    EDUCATION = "education"
    OTHER = "other"


class ChangeType(StrEnum):
    """How an expense changed: the change feed's word, stored as the expense's last change."""

    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"
    RESTORED = "restored"


# The same change as the contract's event kind, and as the activity feed's stored verb
# (the feed says "edited", its wire enum EDITED; both predate the shared kind).
CHANGE_KIND: Final = {
    ChangeType.CREATED: ev.CREATED,
    ChangeType.UPDATED: ev.UPDATED,
    ChangeType.DELETED: ev.DELETED,
    ChangeType.RESTORED: ev.RESTORED,
}
ACTIVITY_VERB: Final = {
    ChangeType.CREATED: "created",
    ChangeType.UPDATED: "edited",
    ChangeType.DELETED: "deleted",
    ChangeType.RESTORED: "restored",
}


# The name of each mode's field inside the request's `split` oneof.
MODE_FIELD: Final = {
    SplitMode.EQUAL: "equal",
    SplitMode.EXACT: "exact",
    SplitMode.PERCENT: "percent",
    SplitMode.SHARES: "shares",
    SplitMode.ADJUSTMENT: "adjustment",
    SplitMode.ITEMIZED: "itemized",
}
# The request field that holds each entry's value, for modes with entries.
_ENTRY_VALUE: Final = {
    SplitMode.EXACT: "amount_minor",
    SplitMode.PERCENT: "basis_points",
    SplitMode.SHARES: "shares",
}


@dataclass(frozen=True)
class Item:
    description: str
    amount_minor: int
    participants: tuple[str, ...]


@dataclass(frozen=True)
class SplitSpec:
    """One split as the user gave it; user ids, not resource names.

    EQUAL uses `participants`; EXACT, PERCENT and SHARES use `entries` (user, value);
    ADJUSTMENT uses `participants` plus `entries` as the adjustments of some of them;
    ITEMIZED uses `items` and the three extras.
    """

    mode: SplitMode
    participants: tuple[str, ...] = ()
    entries: tuple[tuple[str, int], ...] = ()
    items: tuple[Item, ...] = ()
    tax_minor: int = 0
    tip_minor: int = 0
    discount_minor: int = 0


@dataclass(frozen=True)
class Draft:
    description: str
    category: Category
    transaction_date: date
    note: str
    currency: str
    total_minor: int
    payers: tuple[tuple[str, int], ...]
    split: SplitSpec


@dataclass(frozen=True)
class ReceiptInfo:
    key: str
    content_type: str
    size_bytes: int
    uploaded_at: datetime


def expense_name(group_id: str, expense_id: str) -> str:
    return f"groups/{group_id}/expenses/{expense_id}"


@dataclass(frozen=True)
class Expense:
    id: str
    group_id: str
    draft: Draft
    postings: dict[str, Posting]
    creator: str
    last_editor: str
    comment_count: int
    version: int
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None
    recurring_rule_id: str | None = None
    last_change: ChangeType = ChangeType.CREATED
    change_key: tuple[int, str] = (0, "")
    receipt: ReceiptInfo | None = None

    @property
    def name(self) -> str:
        return expense_name(self.group_id, self.id)

    @property
    def deleted(self) -> bool:
        return self.deleted_at is not None


@dataclass(frozen=True)
class Comment:
    id: str
    group_id: str
    expense_id: str
    author: str
    text: str
    created_at: datetime
    deleted_at: datetime | None = None
    # (writing transaction, id): its place in the change feed
    change_key: tuple[int, str] = (0, "")

    @property
    def name(self) -> str:
        return f"groups/{self.group_id}/expenses/{self.expense_id}/comments/{self.id}"


@dataclass(frozen=True)
class Activity:
    id: str
    group_id: str
    actor: str
    # created, edited, deleted, restored, commented (expenses, and created for a group);
    # settled, member_invited/joined/left/removed, group_updated (services.expense.activity)
    verb: str
    subject: str
    details: dict[str, Any]
    currency: str
    amount_minor: int
    effects: dict[str, int]  # user id → change of their balance
    created_at: datetime


@dataclass(frozen=True)
class NewActivity:
    """A feed entry a write of expense-service adds (its id and time come from storage)."""

    group_id: str
    actor: str
    verb: str
    subject: str
    details: dict[str, Any]
    currency: str = ""
    amount_minor: int = 0
    effects: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Announcement:
    """What one write tells others: its outbox event and its feed entry."""

    event: Message
    aggregate: str
    actor: str
    activity: NewActivity


# order_by value → (the expense's sort key, descending)
ORDERS: Final = {
    "transaction_date desc": ("expense_date", True),
    "transaction_date": ("expense_date", False),
    "create_time desc": ("created_at", True),
    "create_time": ("created_at", False),
    "update_time desc": ("updated_at", True),
}


@dataclass(frozen=True)
class ExpenseFilter:
    start_date: date | None = None
    end_date: date | None = None
    payer: str = ""
    participant: str = ""
    categories: tuple[Category, ...] = ()
    query: str = ""
    show_deleted: bool = False
    order_by: str = "transaction_date desc"


def sort_value(expense: Expense, key: str) -> date | datetime:
    """The value an ORDERS key sorts by."""
    return {
        "expense_date": expense.draft.transaction_date,
        "created_at": expense.created_at,
        "updated_at": expense.updated_at,
    }[key]


def order_key(expense: Expense, order_by: str) -> list[str]:
    """A page token's position: the sort value and the id."""
    return [sort_value(expense, ORDERS[order_by][0]).isoformat(), expense.id]


@dataclass(frozen=True)
class Updates:
    """Fields an update replaces; None keeps the current value."""

    description: str | None = None
    category: Category | None = None
    transaction_date: date | None = None
    note: str | None = None
    total: tuple[str, int] | None = None
    payers: tuple[tuple[str, int], ...] | None = None
    split: SplitSpec | None = None


def apply_updates(draft: Draft, updates: Updates) -> Draft:
    """The draft after an edit. Who paid is never assumed: new payers replace the old ones
    (the request is refused without any), and only a lone payer follows a new total."""
    new = draft
    if updates.description is not None:
        new = replace(new, description=updates.description)
    if updates.category is not None:
        new = replace(new, category=updates.category)
    if updates.transaction_date is not None:
        new = replace(new, transaction_date=updates.transaction_date)
    if updates.note is not None:
        new = replace(new, note=updates.note)
    if updates.total is not None:
        currency, total = updates.total
        new = replace(new, currency=currency, total_minor=total)
        # A single payer paid the whole bill before and still does: spare the client
        # from resending payers just to change the amount.
        if updates.payers is None and len(draft.payers) == 1:
            new = replace(new, payers=((draft.payers[0][0], total),))
    if updates.payers is not None:
        new = replace(new, payers=updates.payers)
    if updates.split is not None:
        new = replace(new, split=updates.split)
    return new


# ---------------------------------------------------------------------------------------
# Validation and postings


def check_total(total_minor: int, field_path: str) -> int:
    if total_minor <= 0:
        raise InvalidArgument(field_path, "must be positive")
    if total_minor > money.MAX_AMOUNT_MINOR:
        raise InvalidArgument(field_path, f"must be at most {money.MAX_AMOUNT_MINOR} minor units")
    return total_minor


def _check_adjustments(split: SplitSpec, base: str) -> None:
    members = set(split.participants)
    seen: set[str] = set()
    for k, (user, _) in enumerate(split.entries):
        if user not in members:
            raise InvalidArgument(f"{base}.adjustments[{k}].user", "must be one of the participants")
        if user in seen:
            raise InvalidArgument(f"{base}.adjustments[{k}].user", "appears twice")
        seen.add(user)


def to_ledger_split(split: SplitSpec) -> ledger_splits.Split:
    share = ledger_splits.Share
    if split.mode is SplitMode.EQUAL:
        return ledger_splits.EqualSplit(split.participants)
    if split.mode is SplitMode.EXACT:
        return ledger_splits.ExactSplit([share(u, v) for u, v in split.entries])
    if split.mode is SplitMode.PERCENT:
        return ledger_splits.PercentSplit([share(u, v) for u, v in split.entries])
    if split.mode is SplitMode.SHARES:
        return ledger_splits.SharesSplit([share(u, v) for u, v in split.entries])
    if split.mode is SplitMode.ADJUSTMENT:
        adjustments = dict(split.entries)
        return ledger_splits.AdjustmentSplit([share(u, adjustments.get(u, 0)) for u in split.participants])
    return ledger_splits.ItemizedSplit(
        [ledger_splits.LineItem(i.amount_minor, i.participants) for i in split.items],
        tax_minor=split.tax_minor,
        tip_minor=split.tip_minor,
        discount_minor=split.discount_minor,
    )


_INDEXED = re.compile(r"^(payers|splits)\[(\d+)\]\.(\w+)$")


def request_path(lib_field: str, split: SplitSpec, prefix: str) -> str:
    """The request field for a field path of `libs.ledger.splits` / `libs.money`."""
    base = f"{prefix}.split.{MODE_FIELD[split.mode]}"
    listed = split.mode in (SplitMode.EQUAL, SplitMode.ADJUSTMENT)
    if lib_field in ("payers", "payers.paid_minor"):
        return f"{prefix}.payers"
    if lib_field == "currency_code":
        return f"{prefix}.total.currency_code"
    if lib_field == "total_minor":
        # Only the itemized sum check reaches the split math with a bad total; the
        # total's own range is checked before.
        return base if split.mode is SplitMode.ITEMIZED else f"{prefix}.total.amount_minor"
    if lib_field == "splits":
        return f"{base}.participants" if listed else f"{base}.entries"
    if lib_field.startswith("splits."):
        return f"{base}.adjustments" if split.mode is SplitMode.ADJUSTMENT else f"{base}.entries"
    if lib_field.startswith(("items", "tax_minor", "tip_minor", "discount_minor")):
        return f"{base}.{lib_field}"
    match = _INDEXED.match(lib_field)
    if match is None:
        return f"{prefix}.split"
    kind, index, leaf = match.group(1), int(match.group(2)), match.group(3)
    if kind == "payers":
        return f"{prefix}.payers[{index}].{'user' if leaf == 'participant' else leaf}"
    if leaf == "participant":
        return f"{base}.participants[{index}]" if listed else f"{base}.entries[{index}].user"
    if split.mode is SplitMode.ADJUSTMENT:
        user = split.participants[index] if index < len(split.participants) else ""
        for k, (who, _) in enumerate(split.entries):
            if who == user:
                return f"{base}.adjustments[{k}].adjustment_minor"
        return f"{base}.participants[{index}]"
    return f"{base}.entries[{index}].{_ENTRY_VALUE.get(split.mode, leaf)}"


def postings(draft: Draft, *, seed: str, prefix: str = "expense") -> dict[str, Posting]:
    """The ledger postings of `draft`; any inconsistency is INVALID_ARGUMENT naming its field."""
    check_total(draft.total_minor, f"{prefix}.total.amount_minor")
    for i, (_, paid) in enumerate(draft.payers):
        if paid <= 0:
            raise InvalidArgument(f"{prefix}.payers[{i}].paid_minor", "must be positive")
    if draft.split.mode is SplitMode.ADJUSTMENT:
        _check_adjustments(draft.split, f"{prefix}.split.adjustment")
    try:
        return ledger_splits.compute_postings(
            total_minor=draft.total_minor,
            currency_code=draft.currency,
            payers=[ledger_splits.Payer(u, p) for u, p in draft.payers],
            split=to_ledger_split(draft.split),
            seed=seed,
        )
    except money.InvalidField as err:
        raise InvalidArgument(request_path(err.field, draft.split, prefix), err.reason) from None


def preset_split(
    mode: str,
    entries: tuple[tuple[str, int], ...],
    currency: str,
    total_minor: int,
    *,
    preset_currency: str,
    departed: tuple[str, ...],
    preset: str,
    field: str,
) -> SplitSpec:
    """The split a group's preset gives an expense in ``currency`` of ``total_minor``.

    A preset that names someone who has left is refused outright: splitting among the
    people who remain would quietly charge them the departed person's part.
    """
    if departed:
        who = ", ".join(f"users/{u}" for u in departed)
        raise FailedPrecondition(
            f"{field}: split preset {preset} names {who}, no longer a member of the group; update the preset",
            metadata={"field": field, "split_preset": preset, "departed_users": who},
        )
    if mode == "equal":
        return SplitSpec(SplitMode.EQUAL, participants=tuple(u for u, _ in entries))
    if mode == "percent":
        return SplitSpec(SplitMode.PERCENT, entries=entries)
    if mode == "shares":
        return SplitSpec(SplitMode.SHARES, entries=entries)
    if mode == "exact":
        if preset_currency != currency:
            raise InvalidArgument(
                field, f"the preset's amounts are in {preset_currency}, the expense in {currency}"
            )
        owed = sum(v for _, v in entries)
        if owed != total_minor:
            raise InvalidArgument(
                field, f"the preset's amounts sum to {owed}, the expense total is {total_minor}"
            )
        return SplitSpec(SplitMode.EXACT, entries=entries)
    raise InvalidArgument(field, "the preset has an unknown mode")


def user_fields(draft: Draft, prefix: str = "expense") -> dict[str, str]:
    """Every user the draft names → the first request field naming them (for membership errors)."""
    out: dict[str, str] = {}
    for i, (user, _) in enumerate(draft.payers):
        out.setdefault(user, f"{prefix}.payers[{i}].user")
    split = draft.split
    base = f"{prefix}.split.{MODE_FIELD[split.mode]}"
    for i, user in enumerate(split.participants):
        out.setdefault(user, f"{base}.participants[{i}]")
    entries = "adjustments" if split.mode is SplitMode.ADJUSTMENT else "entries"
    for i, (user, _) in enumerate(split.entries):
        out.setdefault(user, f"{base}.{entries}[{i}].user")
    for i, item in enumerate(split.items):
        for j, user in enumerate(item.participants):
            out.setdefault(user, f"{base}.items[{i}].participants[{j}]")
    return out


# ---------------------------------------------------------------------------------------
# Storage form (JSON in the expense row); kept here so the shape has one definition.


def split_to_json(split: SplitSpec) -> dict[str, Any]:
    return {
        "mode": split.mode.value,
        "participants": list(split.participants),
        "entries": [[u, v] for u, v in split.entries],
        "items": [
            {
                "description": i.description,
                "amount_minor": i.amount_minor,
                "participants": list(i.participants),
            }
            for i in split.items
        ],
        "tax_minor": split.tax_minor,
        "tip_minor": split.tip_minor,
        "discount_minor": split.discount_minor,
    }


def split_from_json(data: Mapping[str, Any]) -> SplitSpec:
    return SplitSpec(
        mode=SplitMode(data["mode"]),
        participants=tuple(data["participants"]),
        entries=tuple((str(u), int(v)) for u, v in data["entries"]),
        items=tuple(
            Item(i["description"], int(i["amount_minor"]), tuple(i["participants"])) for i in data["items"]
        ),
        tax_minor=int(data["tax_minor"]),
        tip_minor=int(data["tip_minor"]),
        discount_minor=int(data["discount_minor"]),
    )


def draft_to_json(draft: Draft) -> dict[str, Any]:
    """A template of a recurring rule; the date is kept but each occurrence replaces it."""
    return {
        "description": draft.description,
        "category": draft.category.value,
        "transaction_date": draft.transaction_date.isoformat(),
        "note": draft.note,
        "currency": draft.currency,
        "total_minor": draft.total_minor,
        "payers": [[u, p] for u, p in draft.payers],
        "split": split_to_json(draft.split),
    }


def draft_from_json(data: Mapping[str, Any]) -> Draft:
    return Draft(
        description=data["description"],
        category=Category(data["category"]),
        transaction_date=date.fromisoformat(data["transaction_date"]),
        note=data["note"],
        currency=data["currency"],
        total_minor=int(data["total_minor"]),
        payers=tuple((str(u), int(p)) for u, p in data["payers"]),
        split=split_from_json(data["split"]),
    )


# ---------------------------------------------------------------------------------------
# What an edit changed, as data for the activity feed (rendered in summaries.py).


def changes(old: Draft, new: Draft) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if (old.currency, old.total_minor) != (new.currency, new.total_minor):
        out.append(
            {
                "field": "amount",
                "from": [old.currency, old.total_minor],
                "to": [new.currency, new.total_minor],
            }
        )
    if old.description != new.description:
        out.append({"field": "description", "from": old.description, "to": new.description})
    if old.transaction_date != new.transaction_date:
        out.append(
            {
                "field": "date",
                "from": old.transaction_date.isoformat(),
                "to": new.transaction_date.isoformat(),
            }
        )
    if old.category != new.category:
        out.append({"field": "category", "from": old.category.value, "to": new.category.value})
    if old.note != new.note:
        out.append({"field": "note"})
    if old.payers != new.payers:
        out.append({"field": "payers"})
    if old.split != new.split:
        out.append({"field": "split"})
    return out
