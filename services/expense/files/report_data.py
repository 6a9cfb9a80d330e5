"""Exports as plain data: the queued export, and what its file contains (rendered to CSV or PDF)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from libs.ledger.postings import Posting

# A build that fails this often is FAILED for good; before that it goes back to the queue.
MAX_EXPORT_ATTEMPTS = 3


@dataclass(frozen=True)
class ExportRow:
    """A requested export, as stored (expense.exports)."""

    id: str
    group_id: str
    format: str
    state: str
    start_date: date | None
    end_date: date | None
    snapshot: dict[str, Any]
    object_key: str | None
    error: str
    attempts: int
    creator: str
    created_at: datetime
    completed_at: datetime | None

    @property
    def name(self) -> str:
        return f"groups/{self.group_id}/exports/{self.id}"


@dataclass(frozen=True)
class ExpenseLine:
    """A live expense as an export lists it, with its postings."""

    id: str
    expense_date: date
    description: str
    category: str
    currency: str
    total_minor: int
    postings: dict[str, Posting]


@dataclass(frozen=True)
class ExportLine:
    """One expense or settlement as people read it."""

    when: date
    kind: str  # "expense" or "settlement"
    description: str
    category: str
    currency: str
    total_minor: int
    paid_by: str  # display names, "; "-joined
    # member display name → net for this line (paid - owed), in minor units
    nets: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ExportData:
    group_name: str
    members: list[str]  # display names in column order
    lines: list[ExportLine]
    # currency → member display name → net balance
    balances: dict[str, dict[str, int]]
    generated_on: date
