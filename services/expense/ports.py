"""What expense-service's use cases need, as interfaces: its own storage
(:class:`ExpenseRepositories`, SQL in the repository modules, in memory in tests/fakes.py)
and the other services (adapters in peers.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from libs.idempotency import Keys
from libs.ledger.book import Ledger
from libs.ledger.postings import Posting
from libs.ledger.reports import Line
from libs.outbox import Outbox
from services.expense.activity.entries import Entry
from services.expense.domain import (
    Activity,
    Announcement,
    Comment,
    Draft,
    Expense,
    ExpenseFilter,
)
from services.expense.files.report_data import ExpenseLine, ExportRow
from services.expense.recurrence import Rule, Schedule
from services.expense.scan.draft import Draft as ScanDraft
from services.expense.scan.draft import ScanRow
from services.expense.spending import SpendingRow


class ExpenseRepositories(Protocol):
    """expense-service's tables, the ledger and the kit's keys and outbox, in one unit of
    work. Absent rows are None (the use cases turn them into NOT_FOUND)."""

    @property
    def keys(self) -> Keys: ...

    @property
    def outbox(self) -> Outbox: ...

    @property
    def ledger(self) -> Ledger: ...

    # --- expenses ------------------------------------------------------------------------

    async def create_expense(
        self,
        *,
        expense_id: str,
        group_id: str,
        draft: Draft,
        postings: dict[str, Posting],
        creator: str,
        recurring_rule_id: str | None,
        announcement: Announcement,
        created_at: datetime,
        last: bool = False,
    ) -> Expense:
        """The expense, its ledger entry, its event and its feed entry, written together.
        ``last``: nothing in the unit of work reads or changes the expense after this, so
        its writes may wait for the COMMIT and go out with it."""

    async def announce(self, announcement: Announcement) -> None:
        """A write's event and feed entry."""

    async def get_expense(self, group_id: str, expense_id: str, *, lock: bool = False) -> Expense | None: ...

    async def list_expenses(
        self, group_id: str, filters: ExpenseFilter, *, after: list[Any] | None, limit: int
    ) -> list[Expense]:
        """In ``filters.order_by`` order (then id), after the page position ``after``."""

    async def update_expense(
        self, expense_id: str, draft: Draft, postings: dict[str, Posting], editor: str
    ) -> None:
        """Replaces the row's draft; its version moves on and it is the feed's ``updated``."""

    async def set_deleted(self, expense_id: str, deleted: bool, editor: str) -> None: ...

    async def changes_since(
        self,
        group_ids: Sequence[str],
        after: tuple[int, str] | None,
        upto: tuple[int, str] | None,
        limit: int,
    ) -> list[Expense | Comment]:
        """Expenses and comments by (writing transaction, id), after ``after`` and up to ``upto``."""

    async def set_receipt(
        self, expense_id: str, key: str, content_type: str, size: int, editor: str
    ) -> None: ...

    # --- comments ------------------------------------------------------------------------

    async def insert_comment(self, group_id: str, expense_id: str, author: str, body: str) -> Comment:
        """The comment; the expense's comment count goes up."""

    async def comments(self, expense_id: str, *, after: list[Any] | None, limit: int) -> list[Comment]:
        """Live comments, oldest first."""

    async def get_comment(self, expense_id: str, comment_id: str) -> Comment | None:
        """A live comment of the expense."""

    async def delete_comment(self, comment: Comment) -> None:
        """Leaves a tombstone; the expense's comment count goes down."""

    # --- activity feed -------------------------------------------------------------------

    async def insert_entry(self, entry: Entry) -> bool:
        """False when an entry with its id is there already."""

    async def activities(
        self, group_ids: Sequence[str], *, before: int | None, limit: int
    ) -> list[tuple[int, Activity]]:
        """(position, entry), newest first, before position ``before``."""

    # --- recurring rules -----------------------------------------------------------------

    async def insert_rule(
        self,
        *,
        group_id: str,
        schedule: Schedule,
        template: Draft,
        paused: bool,
        next_occurrence: date | None,
        creator: str,
    ) -> Rule: ...

    async def get_rule(self, group_id: str, rule_id: str, *, lock: bool = False) -> Rule | None:
        """A rule that is not deleted."""

    async def update_rule(
        self,
        rule_id: str,
        schedule: Schedule,
        template: Draft,
        paused: bool,
        next_occurrence: date | None,
    ) -> None: ...

    async def delete_rule(self, rule_id: str) -> None: ...

    async def due_rules(self, run_date: date, group_id: str | None) -> list[tuple[str, str]]:
        """(group id, rule id) of live rules due by ``run_date``, soonest first."""

    async def rules(self, group_id: str, *, after: list[Any] | None, limit: int) -> list[Rule]:
        """Soonest next occurrence first; ended rules last."""

    # --- reports (the ledger's reads for them included) ----------------------------------

    async def spending_rows(
        self, group_ids: list[str], currency: str, start: date, end: date
    ) -> list[SpendingRow]:
        """Live expenses in the currency dated within [start, end]."""

    async def owed_by(self, entry_ids: Sequence[str], user_id: str) -> dict[str, int]:
        """Entry id → what the user owes in it (libs.ledger.reports)."""

    async def totals_by_user(self, entry_ids: Sequence[str]) -> list[tuple[str, int, int]]:
        """(user, paid, owed) over the entries, by user id (libs.ledger.reports)."""

    async def active_entries(
        self, group_id: str, kind: str, start: date | None, end: date | None
    ) -> list[Line]:
        """The group's active ledger entries of one kind recorded in the range (libs.ledger.reports)."""

    async def expense_lines(self, group_id: str, start: date | None, end: date | None) -> list[ExpenseLine]:
        """Live expenses dated in the range with their postings, oldest first."""

    # --- exports -------------------------------------------------------------------------

    async def insert_export(
        self,
        export_id: str,
        group_id: str,
        fmt: str,
        start: date | None,
        end: date | None,
        snapshot: dict[str, Any],
        creator: str,
    ) -> ExportRow: ...

    async def get_export(self, group_id: str, export_id: str) -> ExportRow | None: ...

    async def claim_export(self) -> ExportRow | None:
        """The oldest export nobody is building (or whose lease ran out), leased to the caller."""

    async def finish_export(self, export_id: str, object_key: str) -> None: ...

    async def fail_export(self, export_id: str, attempts: int, error: str) -> None:
        """Back to the queue, or FAILED for good after MAX_EXPORT_ATTEMPTS."""

    # --- Splitwise import ----------------------------------------------------------------

    async def imported(self, group_id: str, row_ids: list[str]) -> set[str]:
        """The rows among ``row_ids`` imported before."""

    async def mark_imported(self, group_id: str, row_id: str, kind: str, target: str) -> bool:
        """False when the row was imported already."""

    # --- receipt scans -------------------------------------------------------------------

    async def insert_scan(
        self,
        scan_id: str,
        group_id: str,
        *,
        key: str,
        content_type: str,
        size_bytes: int,
        source_expense_id: str | None,
        currency_hint: str,
        creator: str,
    ) -> ScanRow: ...

    async def get_scan(self, group_id: str, scan_id: str, *, lock: bool = False) -> ScanRow | None: ...

    async def claim_scan(self, scan_id: str) -> ScanRow | None:
        """Marks a pending (or crashed running) scan running; None when it is done."""

    async def finish_scan(
        self, scan_id: str, *, engine: str, draft: ScanDraft | None, error: str
    ) -> None: ...

    async def link_scan_expense(self, scan_id: str, expense_id: str) -> bool:
        """Records the expense made from the scan; False when one was made already."""


class Groups(Protocol):
    async def members_among(self, group_id: str, user_ids: Sequence[str]) -> set[str] | None:
        """The subset of `user_ids` who are members; None when the group does not exist."""

    async def groups_of_caller(self) -> list[str]:
        """Ids of every group the calling user belongs to."""


@dataclass(frozen=True)
class PresetView:
    """A group's split preset as group-service reports it."""

    name: str
    mode: str  # "equal", "percent", "shares" or "exact"
    entries: tuple[tuple[str, int], ...]
    currency_code: str
    departed: tuple[str, ...]  # named users who are no longer members


class Presets(Protocol):
    async def preset(self, group_id: str, preset_id: str) -> PresetView | None:
        """A preset of the group ("default": its default); None when there is no such preset."""


class Directory(Protocol):
    async def display_names(self, user_ids: Sequence[str]) -> dict[str, str]:
        """Display names of existing users; unknown ids are absent."""

    async def names_and_locale(self, user_ids: Sequence[str], reader: str) -> tuple[dict[str, str], str]:
        """Display names as above, and the BCP 47 locale of user ``reader`` ("" when unset):
        one directory call for a feed page and the person reading it."""


class GroupInfo(Protocol):
    async def snapshot(self, group_id: str) -> tuple[str, dict[str, str]]:
        """The group's display name and its members' display names by user id (caller's view)."""


class Settlements(Protocol):
    async def record(
        self,
        group_id: str,
        *,
        payer: str,
        payee: str,
        currency: str,
        amount_minor: int,
        when: date,
        note: str,
        request_id: str,
    ) -> str:
        """Records a payment through settlement-service; returns its resource name."""
