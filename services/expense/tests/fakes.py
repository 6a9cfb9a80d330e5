"""expense-service's repositories and peers in memory, for use-case tests without PostgreSQL.

:class:`MemoryExpenseRepositories` keeps the rules the SQL repositories have: rows are
ordered and filtered the same way, an absent row is None, every write bumps the row's
version and its place in the change feed (one counter stands in for the writing
transaction's id), deletions leave tombstones, and the ledger moves through MemoryLedger.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

from google.protobuf.message import Message

from libs import clock
from libs.auth.caller import require_caller
from libs.db.repositories import MemoryRepositories
from libs.ledger.book import MemoryLedger
from libs.ledger.postings import Posting
from libs.ledger.reports import Line
from services.expense.activity.entries import Entry
from services.expense.domain import (
    ORDERS,
    Activity,
    Announcement,
    ChangeType,
    Comment,
    Draft,
    Expense,
    ExpenseFilter,
    NewActivity,
    ReceiptInfo,
    sort_value,
)
from services.expense.files.report_data import MAX_EXPORT_ATTEMPTS, ExpenseLine, ExportRow
from services.expense.ports import PresetView
from services.expense.recurrence import Rule, Schedule
from services.expense.scan.draft import Draft as ScanDraft
from services.expense.scan.draft import ScanRow
from services.expense.spending import SpendingRow

# Where the SQL orders NULL next occurrences: last.
_NO_OCCURRENCE = date(9999, 12, 31)
EXPORT_LEASE = timedelta(seconds=120)


class MemoryExpenseRepositories(MemoryRepositories):
    def __init__(self) -> None:
        super().__init__()
        self.ledger = MemoryLedger()
        self.expenses: dict[str, Expense] = {}
        self.comments_by_id: dict[str, Comment] = {}
        self.feed: list[Activity] = []  # position = index + 1
        self.rules_by_id: dict[str, Rule] = {}
        self.deleted_rules: set[str] = set()
        self.exports: dict[str, ExportRow] = {}
        self.leases: dict[str, datetime] = {}
        self.imported_rows: dict[tuple[str, str], tuple[str, str]] = {}
        self.scans: dict[str, ScanRow] = {}
        self.entry_times: dict[str, datetime] = {}
        self._xid = 0

    def _next_xid(self) -> int:
        self._xid += 1
        return self._xid

    # --- expenses ------------------------------------------------------------------------

    def _with_postings(self, expense: Expense) -> Expense:
        entry = self.ledger.entries.get(expense.id)
        postings = dict(sorted(entry.postings.items())) if entry else {}
        return replace(expense, postings=postings)

    def _activity(self, new: NewActivity) -> None:
        self.feed.append(
            Activity(
                id=str(uuid.uuid4()),
                group_id=new.group_id,
                actor=new.actor,
                verb=new.verb,
                subject=new.subject,
                details=dict(new.details),
                currency=new.currency,
                amount_minor=new.amount_minor,
                effects=dict(new.effects),
                created_at=clock.now(),
            )
        )

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
        if expense_id in self.expenses:
            raise KeyError(f"duplicate expense id {expense_id}")  # the primary key's refusal
        now = created_at
        expense = Expense(
            id=expense_id,
            group_id=group_id,
            draft=draft,
            postings={},
            creator=creator,
            last_editor=creator,
            comment_count=0,
            version=1,
            created_at=now,
            updated_at=now,
            deleted_at=None,
            recurring_rule_id=recurring_rule_id,
            change_key=(self._next_xid(), expense_id),
        )
        self.expenses[expense_id] = expense
        await self.ledger.record(
            group_id=group_id,
            kind="expense",
            currency=draft.currency,
            total_minor=draft.total_minor,
            postings=postings,
            entry_id=expense_id,
        )
        self.entry_times[expense_id] = now
        await self.announce(announcement)
        return self._with_postings(expense)

    async def announce(self, announcement: Announcement) -> None:
        await self.outbox.record(announcement.event, announcement.aggregate, actor=announcement.actor)
        self._activity(announcement.activity)

    async def get_expense(self, group_id: str, expense_id: str, *, lock: bool = False) -> Expense | None:
        expense = self.expenses.get(expense_id)
        if expense is None or expense.group_id != group_id:
            return None
        return self._with_postings(expense)

    def _write(self, expense_id: str, **changes: Any) -> None:
        old = self.expenses[expense_id]
        self.expenses[expense_id] = replace(
            old,
            version=old.version + 1,
            updated_at=clock.now(),
            change_key=(self._next_xid(), expense_id),
            **changes,
        )

    async def list_expenses(
        self, group_id: str, filters: ExpenseFilter, *, after: list[Any] | None, limit: int
    ) -> list[Expense]:
        key, desc = ORDERS[filters.order_by]
        f = filters
        found = [
            self._with_postings(e)
            for e in self.expenses.values()
            if e.group_id == group_id
            and (f.show_deleted or not e.deleted)
            and (f.start_date is None or e.draft.transaction_date >= f.start_date)
            and (f.end_date is None or e.draft.transaction_date <= f.end_date)
            and (not f.payer or f.payer in {u for u, _ in e.draft.payers})
            and (not f.categories or e.draft.category in f.categories)
            and (
                not f.query
                or f.query.lower() in e.draft.description.lower()
                or f.query.lower() in e.draft.note.lower()
            )
        ]
        if f.participant:
            found = [e for e in found if f.participant in e.postings]
        found.sort(key=lambda e: (sort_value(e, key), e.id), reverse=desc)
        if after:
            value = (
                date.fromisoformat(after[0]) if key == "expense_date" else datetime.fromisoformat(after[0])
            )
            position = (value, after[1])
            found = [
                e
                for e in found
                if ((sort_value(e, key), e.id) < position if desc else (sort_value(e, key), e.id) > position)
            ]
        return found[:limit]

    async def update_expense(
        self, expense_id: str, draft: Draft, postings: dict[str, Posting], editor: str
    ) -> None:
        self._write(expense_id, draft=draft, last_editor=editor, last_change=ChangeType.UPDATED)

    async def set_deleted(self, expense_id: str, deleted: bool, editor: str) -> None:
        self._write(
            expense_id,
            deleted_at=clock.now() if deleted else None,
            last_change=ChangeType.DELETED if deleted else ChangeType.RESTORED,
            last_editor=editor,
        )

    async def changes_since(
        self,
        group_ids: Sequence[str],
        after: tuple[int, str] | None,
        upto: tuple[int, str] | None,
        limit: int,
    ) -> list[Expense | Comment]:
        rows: list[Expense | Comment] = [
            *(self._with_postings(e) for e in self.expenses.values()),
            *self.comments_by_id.values(),
        ]
        picked = [
            r
            for r in rows
            if r.group_id in group_ids
            and (after is None or r.change_key > after)
            and (upto is None or r.change_key <= upto)
        ]
        return sorted(picked, key=lambda r: r.change_key)[:limit]

    async def set_receipt(self, expense_id: str, key: str, content_type: str, size: int, editor: str) -> None:
        self._write(
            expense_id,
            receipt=ReceiptInfo(key, content_type, size, clock.now()),
            last_editor=editor,
            last_change=ChangeType.UPDATED,
        )

    # --- comments ------------------------------------------------------------------------

    def _count_comment(self, expense_id: str, delta: int) -> None:
        old = self.expenses[expense_id]
        self.expenses[expense_id] = replace(
            old,
            comment_count=old.comment_count + delta,
            last_change=old.last_change if old.deleted else ChangeType.UPDATED,
            change_key=(self._next_xid(), expense_id),
        )

    async def insert_comment(self, group_id: str, expense_id: str, author: str, body: str) -> Comment:
        comment_id = str(uuid.uuid4())
        comment = Comment(
            id=comment_id,
            group_id=group_id,
            expense_id=expense_id,
            author=author,
            text=body,
            created_at=clock.now(),
            change_key=(self._next_xid(), comment_id),
        )
        self.comments_by_id[comment_id] = comment
        self._count_comment(expense_id, 1)
        return comment

    async def comments(self, expense_id: str, *, after: list[Any] | None, limit: int) -> list[Comment]:
        live = sorted(
            (c for c in self.comments_by_id.values() if c.expense_id == expense_id and c.deleted_at is None),
            key=lambda c: (c.created_at, c.id),
        )
        if after:
            position = (datetime.fromisoformat(after[0]), after[1])
            live = [c for c in live if (c.created_at, c.id) > position]
        return live[:limit]

    async def get_comment(self, expense_id: str, comment_id: str) -> Comment | None:
        comment = self.comments_by_id.get(comment_id)
        if comment is None or comment.expense_id != expense_id or comment.deleted_at is not None:
            return None
        return comment

    async def delete_comment(self, comment: Comment) -> None:
        self.comments_by_id[comment.id] = replace(
            comment, deleted_at=clock.now(), change_key=(self._next_xid(), comment.id)
        )
        self._count_comment(comment.expense_id, -1)

    # --- activity feed -------------------------------------------------------------------

    async def insert_entry(self, entry: Entry) -> bool:
        if any(a.id == entry.id for a in self.feed):
            return False
        self.feed.append(
            Activity(
                id=entry.id,
                group_id=entry.group_id,
                actor=entry.actor,
                verb=entry.verb,
                subject=entry.subject,
                details=dict(entry.details),
                currency=entry.currency,
                amount_minor=entry.amount_minor,
                effects=dict(entry.effects),
                created_at=entry.created_at,
            )
        )
        return True

    async def activities(
        self, group_ids: Sequence[str], *, before: int | None, limit: int
    ) -> list[tuple[int, Activity]]:
        numbered = [(i + 1, a) for i, a in enumerate(self.feed) if a.group_id in group_ids]
        if before is not None:
            numbered = [(seq, a) for seq, a in numbered if seq < before]
        return list(reversed(numbered))[:limit]

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
    ) -> Rule:
        now = clock.now()
        rule = Rule(
            id=str(uuid.uuid4()),
            group_id=group_id,
            schedule=schedule,
            template=template,
            paused=paused,
            next_occurrence=next_occurrence,
            creator=creator,
            version=1,
            created_at=now,
            updated_at=now,
        )
        self.rules_by_id[rule.id] = rule
        return rule

    async def get_rule(self, group_id: str, rule_id: str, *, lock: bool = False) -> Rule | None:
        rule = self.rules_by_id.get(rule_id)
        if rule is None or rule.group_id != group_id or rule_id in self.deleted_rules:
            return None
        return rule

    async def update_rule(
        self,
        rule_id: str,
        schedule: Schedule,
        template: Draft,
        paused: bool,
        next_occurrence: date | None,
    ) -> None:
        old = self.rules_by_id[rule_id]
        # Like the SQL: the start date stays as created.
        self.rules_by_id[rule_id] = replace(
            old,
            schedule=replace(schedule, start_date=old.schedule.start_date),
            template=template,
            paused=paused,
            next_occurrence=next_occurrence,
            version=old.version + 1,
            updated_at=clock.now(),
        )

    async def delete_rule(self, rule_id: str) -> None:
        self.deleted_rules.add(rule_id)

    def _live_rules(self) -> list[Rule]:
        return [r for r in self.rules_by_id.values() if r.id not in self.deleted_rules]

    async def due_rules(self, run_date: date, group_id: str | None) -> list[tuple[str, str]]:
        due = [
            r
            for r in self._live_rules()
            if not r.paused
            and r.next_occurrence is not None
            and r.next_occurrence <= run_date
            and (group_id is None or r.group_id == group_id)
        ]
        return [(r.group_id, r.id) for r in sorted(due, key=lambda r: (r.next_occurrence, r.id))]

    async def rules(self, group_id: str, *, after: list[Any] | None, limit: int) -> list[Rule]:
        def key(r: Rule) -> tuple[date, str]:
            return (r.next_occurrence or _NO_OCCURRENCE, r.id)

        found = sorted((r for r in self._live_rules() if r.group_id == group_id), key=key)
        if after:
            position = (date.fromisoformat(after[0]), after[1])
            found = [r for r in found if key(r) > position]
        return found[:limit]

    # --- reports -------------------------------------------------------------------------

    async def spending_rows(
        self, group_ids: list[str], currency: str, start: date, end: date
    ) -> list[SpendingRow]:
        return [
            SpendingRow(e.id, e.draft.category, e.draft.transaction_date.replace(day=1), e.draft.total_minor)
            for e in self.expenses.values()
            if e.group_id in group_ids
            and e.draft.currency == currency
            and not e.deleted
            and start <= e.draft.transaction_date <= end
        ]

    async def owed_by(self, entry_ids: Sequence[str], user_id: str) -> dict[str, int]:
        postings = await self.ledger.postings_of(list(entry_ids))
        return {e: p[user_id].owed_minor for e, p in postings.items() if user_id in p}

    async def totals_by_user(self, entry_ids: Sequence[str]) -> list[tuple[str, int, int]]:
        sums: dict[str, list[int]] = {}
        for postings in (await self.ledger.postings_of(list(entry_ids))).values():
            for user, p in postings.items():
                paid_owed = sums.setdefault(user, [0, 0])
                paid_owed[0] += p.paid_minor
                paid_owed[1] += p.owed_minor
        return [(u, paid, owed) for u, (paid, owed) in sorted(sums.items())]

    async def active_entries(
        self, group_id: str, kind: str, start: date | None, end: date | None
    ) -> list[Line]:
        lines = []
        for e in self.ledger.entries.values():
            at = self.entry_times.setdefault(e.id, clock.now())
            if (
                e.group_id == group_id
                and e.kind == kind
                and e.active
                and (start is None or at.date() >= start)
                and (end is None or at.date() <= end)
            ):
                lines.append(Line(e.id, e.kind, e.currency, e.total_minor, at, dict(e.postings)))
        return sorted(lines, key=lambda line: (line.created_at, line.id))

    async def expense_lines(self, group_id: str, start: date | None, end: date | None) -> list[ExpenseLine]:
        live = sorted(
            (
                self._with_postings(e)
                for e in self.expenses.values()
                if e.group_id == group_id
                and not e.deleted
                and (start is None or e.draft.transaction_date >= start)
                and (end is None or e.draft.transaction_date <= end)
            ),
            key=lambda e: (e.draft.transaction_date, e.created_at, e.id),
        )
        return [
            ExpenseLine(
                e.id,
                e.draft.transaction_date,
                e.draft.description,
                e.draft.category.value,
                e.draft.currency,
                e.draft.total_minor,
                e.postings,
            )
            for e in live
        ]

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
    ) -> ExportRow:
        row = ExportRow(
            id=export_id,
            group_id=group_id,
            format=fmt,
            state="pending",
            start_date=start,
            end_date=end,
            snapshot=dict(snapshot),
            object_key=None,
            error="",
            attempts=0,
            creator=creator,
            created_at=clock.now(),
            completed_at=None,
        )
        self.exports[export_id] = row
        return row

    async def get_export(self, group_id: str, export_id: str) -> ExportRow | None:
        row = self.exports.get(export_id)
        return row if row is not None and row.group_id == group_id else None

    async def claim_export(self) -> ExportRow | None:
        now = clock.now()
        waiting = [
            r
            for r in self.exports.values()
            if r.state == "pending" or (r.state == "running" and self.leases.get(r.id, now) < now)
        ]
        if not waiting:
            return None
        row = min(waiting, key=lambda r: r.created_at)
        claimed = replace(row, state="running", attempts=row.attempts + 1)
        self.exports[row.id] = claimed
        self.leases[row.id] = now + EXPORT_LEASE
        return claimed

    async def finish_export(self, export_id: str, object_key: str) -> None:
        self.exports[export_id] = replace(
            self.exports[export_id], state="succeeded", object_key=object_key, completed_at=clock.now()
        )
        self.leases.pop(export_id, None)

    async def fail_export(self, export_id: str, attempts: int, error: str) -> None:
        final = attempts >= MAX_EXPORT_ATTEMPTS
        self.exports[export_id] = replace(
            self.exports[export_id],
            state="failed" if final else "pending",
            error=error,
            completed_at=clock.now() if final else None,
        )
        self.leases.pop(export_id, None)

    # --- Splitwise import ----------------------------------------------------------------

    async def imported(self, group_id: str, row_ids: list[str]) -> set[str]:
        return {r for r in row_ids if (group_id, r) in self.imported_rows}

    async def mark_imported(self, group_id: str, row_id: str, kind: str, target: str) -> bool:
        if (group_id, row_id) in self.imported_rows:
            return False
        self.imported_rows[(group_id, row_id)] = (kind, target)
        return True

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
    ) -> ScanRow:
        row = ScanRow(
            id=scan_id,
            group_id=group_id,
            source_key=key,
            content_type=content_type,
            size_bytes=size_bytes,
            source_expense_id=source_expense_id,
            currency_hint=currency_hint,
            state="pending",
            engine="",
            draft=None,
            error="",
            attempts=0,
            expense_id=None,
            creator=creator,
            created_at=clock.now(),
            completed_at=None,
        )
        self.scans[scan_id] = row
        return row

    async def get_scan(self, group_id: str, scan_id: str, *, lock: bool = False) -> ScanRow | None:
        row = self.scans.get(scan_id)
        return row if row is not None and row.group_id == group_id else None

    async def claim_scan(self, scan_id: str) -> ScanRow | None:
        row = self.scans.get(scan_id)
        if row is None or row.state not in ("pending", "running"):
            return None
        self.scans[scan_id] = replace(row, state="running", attempts=row.attempts + 1)
        return self.scans[scan_id]

    async def finish_scan(self, scan_id: str, *, engine: str, draft: ScanDraft | None, error: str) -> None:
        row = self.scans.get(scan_id)
        if row is None or row.state != "running":
            return
        self.scans[scan_id] = replace(
            row,
            state="failed" if draft is None else "succeeded",
            engine=engine,
            draft=draft,
            error=error,
            completed_at=clock.now(),
        )

    async def link_scan_expense(self, scan_id: str, expense_id: str) -> bool:
        row = self.scans[scan_id]
        if row.expense_id is not None:
            return False
        self.scans[scan_id] = replace(row, expense_id=expense_id)
        return True


# --- other services -------------------------------------------------------------------------


class FakeGroups:
    """Rosters by group id; the caller's groups are those they are a member of."""

    def __init__(self, rosters: dict[str, set[str]] | None = None):
        self.rosters = rosters or {}

    async def members_among(self, group_id: str, user_ids: Sequence[str]) -> set[str] | None:
        if group_id not in self.rosters:
            return None
        return {u for u in user_ids if u in self.rosters[group_id]}

    async def groups_of_caller(self) -> list[str]:
        caller = require_caller().user_id
        return sorted(g for g, members in self.rosters.items() if caller in members)


class FakeDirectory:
    def __init__(self, names: dict[str, str] | None = None, locales: dict[str, str] | None = None):
        self.names = names or {}
        self.locales = locales or {}

    async def display_names(self, user_ids: Sequence[str]) -> dict[str, str]:
        return {u: self.names[u] for u in user_ids if u in self.names}

    async def names_and_locale(self, user_ids: Sequence[str], reader: str) -> tuple[dict[str, str], str]:
        return await self.display_names(user_ids), self.locales.get(reader, "")


class FakePresets:
    def __init__(self, presets: dict[tuple[str, str], PresetView] | None = None):
        self.presets = presets or {}

    async def preset(self, group_id: str, preset_id: str) -> PresetView | None:
        return self.presets.get((group_id, preset_id))


class FakeGroupInfo:
    def __init__(self, name: str, members: dict[str, str]):
        self.name, self.members = name, members

    async def snapshot(self, group_id: str) -> tuple[str, dict[str, str]]:
        return self.name, dict(self.members)


@dataclass
class FakeSettlements:
    recorded: list[dict[str, Any]] = field(default_factory=list)

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
        self.recorded.append(
            {"group": group_id, "payer": payer, "payee": payee, "amount_minor": amount_minor}
        )
        return f"groups/{group_id}/settlements/{uuid.uuid5(uuid.NAMESPACE_URL, request_id)}"


def events_of(repos: MemoryExpenseRepositories, kind: type[Message]) -> list[Any]:
    """The recorded events of one message type, in order."""
    return [e for e in repos.outbox.events() if isinstance(e, kind)]
