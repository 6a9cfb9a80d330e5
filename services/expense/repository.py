"""expense-service's SQL repositories: its tables (SQLAlchemy Core and libs.db.batch) on the
unit of work's connection, behind services.expense.ports.ExpenseRepositories.

Ledger rows are never touched here: they go through libs.ledger (the ledger port for
writes, libs.ledger.store and libs.ledger.reports for the reads that go with ours).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from libs import outbox
from libs.db import batch
from libs.db.arrays import text_array
from libs.db.batch import Statement
from libs.db.repositories import SqlRepositories
from libs.ledger import reports, store
from libs.ledger.book import SqlLedger
from libs.ledger.postings import Posting
from libs.validation import is_uuid
from services.expense.activity.entries import Entry
from services.expense.domain import (
    ORDERS,
    Activity,
    Announcement,
    Category,
    ChangeType,
    Comment,
    Draft,
    Expense,
    ExpenseFilter,
    NewActivity,
    ReceiptInfo,
    draft_from_json,
    draft_to_json,
    split_from_json,
    split_to_json,
)
from services.expense.files.repository import SqlFileTables
from services.expense.recurrence import Frequency, Rule, Schedule
from services.expense.scan.repository import SqlScanTables
from services.expense.spending import SpendingRow

_EXPENSE_COLUMNS = """
id, group_id, description, category, expense_date, notes, currency, total_minor, payers, split,
recurring_rule_id, creator, last_editor, comment_count, version, created_at, updated_at, deleted_at,
last_change, change_xid::text AS change_xid,
receipt_key, receipt_content_type, receipt_size, receipt_uploaded_at
"""


# order_by value → (column, descending)
def _draft(row: Any) -> Draft:
    return Draft(
        description=row.description,
        category=Category(row.category),
        transaction_date=row.expense_date,
        note=row.notes,
        currency=row.currency,
        total_minor=int(row.total_minor),
        payers=tuple((str(u), int(p)) for u, p in row.payers),
        split=split_from_json(row.split),
    )


def _expense(row: Any, postings: Mapping[str, Posting]) -> Expense:
    return Expense(
        id=str(row.id),
        group_id=str(row.group_id),
        draft=_draft(row),
        postings=dict(sorted(postings.items())),
        creator=row.creator,
        last_editor=row.last_editor,
        comment_count=row.comment_count,
        version=row.version,
        created_at=row.created_at,
        updated_at=row.updated_at,
        deleted_at=row.deleted_at,
        recurring_rule_id=str(row.recurring_rule_id) if row.recurring_rule_id else None,
        last_change=ChangeType(row.last_change),
        change_key=(int(row.change_xid), str(row.id)),
        receipt=ReceiptInfo(
            row.receipt_key, row.receipt_content_type, int(row.receipt_size), row.receipt_uploaded_at
        )
        if row.receipt_key
        else None,
    )


def _draft_params(draft: Draft, postings: dict[str, Posting]) -> dict[str, Any]:
    return {
        "description": draft.description,
        "category": draft.category.value,
        "expense_date": draft.transaction_date,
        "notes": draft.note,
        "currency": draft.currency,
        "total": draft.total_minor,
        "payers": json.dumps([[u, p] for u, p in draft.payers]),
        "split": json.dumps(split_to_json(draft.split)),
        "payer_ids": text_array(sorted({u for u, _ in draft.payers})),
        "participant_ids": text_array(sorted(postings)),
    }


def insert_expense_statement(
    *,
    expense_id: str,
    group_id: str,
    draft: Draft,
    postings: dict[str, Posting],
    creator: str,
    recurring_rule_id: str | None,
    created_at: datetime,
) -> Statement:
    """The new row's insert. Its times are the caller's, so the caller knows the row
    without reading it back."""
    return Statement(
        "INSERT INTO expense.expenses (id, group_id, description, category, expense_date, notes, "
        "currency, total_minor, payers, split, payer_ids, participant_ids, recurring_rule_id, "
        "creator, last_editor, created_at, updated_at) "
        "VALUES (%(id)s, %(g)s, %(description)s, %(category)s, %(expense_date)s, %(notes)s, %(currency)s, "
        "%(total)s, %(payers)s::jsonb, %(split)s::jsonb, %(payer_ids)s::text[], %(participant_ids)s::text[], "
        "%(rule)s, "
        "%(who)s, %(who)s, %(at)s, %(at)s)",
        {
            "id": expense_id,
            "g": group_id,
            "rule": recurring_rule_id,
            "who": creator,
            "at": created_at,
            **_draft_params(draft, postings),
        },
    )


def _like(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _change_bounds(after: tuple[int, str] | None, upto: tuple[int, str] | None) -> tuple[str, dict[str, Any]]:
    """Conditions on (change_xid, id): after the cursor, up to a bound, and only writes of
    transactions that are over, so nothing newer than the oldest running one is handed out."""
    where = [
        "group_id = ANY(CAST(:groups AS uuid[]))",
        "change_xid < pg_snapshot_xmin(pg_current_snapshot())",
    ]
    params: dict[str, Any] = {}
    if after:
        where.append("(change_xid, id) > (CAST(:xid AS xid8), CAST(:id AS uuid))")
        params["xid"], params["id"] = str(after[0]), after[1]
    if upto:
        where.append("(change_xid, id) <= (CAST(:upto_xid AS xid8), CAST(:upto_id AS uuid))")
        params["upto_xid"], params["upto_id"] = str(upto[0]), upto[1]
    return " AND ".join(where), params


_COMMENT_COLUMNS = (
    "id, group_id, expense_id, author, body, created_at, deleted_at, change_xid::text AS change_xid"
)


def _comment(row: Any) -> Comment:
    return Comment(
        id=str(row.id),
        group_id=str(row.group_id),
        expense_id=str(row.expense_id),
        author=row.author,
        text=row.body,
        created_at=row.created_at,
        deleted_at=row.deleted_at,
        change_key=(int(row.change_xid), str(row.id)),
    )


def insert_activity_statement(entry: NewActivity) -> Statement:
    return Statement(
        "INSERT INTO expense.activities (id, group_id, actor, verb, subject, details, currency, "
        "amount_minor, effects) VALUES (%(id)s, %(g)s, %(actor)s, %(verb)s, %(subject)s, %(details)s::jsonb, "
        "%(currency)s, %(amount)s, %(effects)s::jsonb)",
        {
            "id": str(uuid.uuid4()),
            "g": entry.group_id,
            "actor": entry.actor,
            "verb": entry.verb,
            "subject": entry.subject,
            "details": json.dumps(entry.details),
            "currency": entry.currency,
            "amount": entry.amount_minor,
            "effects": json.dumps(entry.effects),
        },
    )


_RULE_COLUMNS = (
    "id, group_id, frequency, interval_count, start_date, end_date, next_occurrence, template, paused, "
    "creator, version, created_at, updated_at"
)


def _rule(row: Any) -> Rule:
    return Rule(
        id=str(row.id),
        group_id=str(row.group_id),
        schedule=Schedule(Frequency(row.frequency), row.interval_count, row.start_date, row.end_date),
        template=draft_from_json(row.template),
        paused=row.paused,
        next_occurrence=row.next_occurrence,
        creator=row.creator,
        version=row.version,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _announcement_statements(announcement: Announcement) -> list[Statement]:
    """The event's and the feed entry's inserts, sent with the write's other statements."""
    return [
        outbox.record_statement(announcement.event, announcement.aggregate, actor=announcement.actor),
        insert_activity_statement(announcement.activity),
    ]


class SqlExpenseRepositories(SqlFileTables, SqlScanTables, SqlRepositories):
    """Everything expense-service's use cases store, on one transaction's connection."""

    def __init__(self, conn: AsyncConnection):
        super().__init__(conn)
        self.ledger = SqlLedger(conn)

    # --- expenses --------------------------------------------------------------------------

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
        ledger = store.record_statements(
            group_id=group_id,
            kind="expense",
            currency=draft.currency,
            total_minor=draft.total_minor,
            postings=postings,
            entry_id=expense_id,
        )
        rows = [
            insert_expense_statement(
                expense_id=expense_id,
                group_id=group_id,
                draft=draft,
                postings=postings,
                creator=creator,
                recurring_rule_id=recurring_rule_id,
                created_at=created_at,
            ),
            ledger.entry,
            *_announcement_statements(announcement),
        ]
        balances = [] if ledger.balances is None else [ledger.balances]
        if last:
            # Everything goes with the COMMIT: with the idempotency key in front (claimed
            # with the writes), a whole create is one round trip.
            batch.defer(self.conn, *rows, *balances)
        else:
            # New rows now, for the writes that follow; the balances (whose version row
            # every writer of the group queues on) still wait for the COMMIT.
            await batch.run(self.conn, rows)
            batch.defer(self.conn, *balances)
        return Expense(
            id=expense_id,
            group_id=group_id,
            draft=draft,
            postings=dict(sorted(postings.items())),
            creator=creator,
            last_editor=creator,
            comment_count=0,
            version=1,
            created_at=created_at,
            updated_at=created_at,
            deleted_at=None,
            recurring_rule_id=recurring_rule_id,
        )

    async def announce(self, announcement: Announcement) -> None:
        await batch.run(self.conn, _announcement_statements(announcement))

    async def _expenses(self, rows: Sequence[Any]) -> list[Expense]:
        """Rows with their postings, read for all of them in one query."""
        postings = await store.postings_of(self.conn, [str(r.id) for r in rows])
        return [_expense(r, postings.get(str(r.id), {})) for r in rows]

    async def get_expense(self, group_id: str, expense_id: str, *, lock: bool = False) -> Expense | None:
        if not is_uuid(expense_id):  # the group's id was read by libs.names.group
            return None
        row = (
            await self.conn.execute(
                text(
                    f"SELECT {_EXPENSE_COLUMNS} FROM expense.expenses WHERE id = :id AND group_id = :g"
                    + (" FOR UPDATE" if lock else "")
                ),
                {"id": expense_id, "g": group_id},
            )
        ).first()
        if row is None:
            return None
        return (await self._expenses([row]))[0]

    async def update_expense(
        self, expense_id: str, draft: Draft, postings: dict[str, Posting], editor: str
    ) -> None:
        await self.conn.execute(
            text(
                "UPDATE expense.expenses SET description = :description, category = :category, "
                "expense_date = :expense_date, notes = :notes, currency = :currency, total_minor = :total, "
                "payers = CAST(:payers AS jsonb), split = CAST(:split AS jsonb), "
                "payer_ids = CAST(:payer_ids AS text[]), participant_ids = CAST(:participant_ids AS text[]), "
                "last_editor = :who, version = version + 1, "
                "updated_at = now(), last_change = 'updated', change_xid = pg_current_xact_id() "
                "WHERE id = :id"
            ),
            {"id": expense_id, "who": editor, **_draft_params(draft, postings)},
        )

    async def set_deleted(self, expense_id: str, deleted: bool, editor: str) -> None:
        await self.conn.execute(
            text(
                "UPDATE expense.expenses SET deleted_at = CASE WHEN :deleted THEN now() END, "
                "last_change = CASE WHEN :deleted THEN 'deleted' ELSE 'restored' END, last_editor = :who, "
                "version = version + 1, updated_at = now(), change_xid = pg_current_xact_id() WHERE id = :id"
            ),
            {"id": expense_id, "deleted": deleted, "who": editor},
        )

    async def list_expenses(
        self, group_id: str, f: ExpenseFilter, *, after: list[Any] | None, limit: int
    ) -> list[Expense]:
        column, desc = ORDERS[f.order_by]
        where = ["group_id = :g"]
        params: dict[str, Any] = {"g": group_id, "limit": limit}
        if not f.show_deleted:
            where.append("deleted_at IS NULL")
        if f.start_date:
            where.append("expense_date >= :start")
            params["start"] = f.start_date
        if f.end_date:
            where.append("expense_date <= :end")
            params["end"] = f.end_date
        if f.payer:
            where.append("payer_ids @> ARRAY[CAST(:payer AS text)]")
            params["payer"] = f.payer
        if f.participant:
            where.append("participant_ids @> ARRAY[CAST(:participant AS text)]")
            params["participant"] = f.participant
        if f.categories:
            where.append("category = ANY(:categories)")
            params["categories"] = [c.value for c in f.categories]
        if f.query:
            where.append("(description ILIKE :q OR notes ILIKE :q)")
            params["q"] = _like(f.query)
        if after:
            cast = "date" if column == "expense_date" else "timestamptz"
            where.append(
                f"({column}, id) {'<' if desc else '>'} (CAST(:after_key AS {cast}), CAST(:after_id AS uuid))"
            )
            params["after_key"], params["after_id"] = after
        direction = "DESC" if desc else "ASC"
        rows = await self.conn.execute(
            text(
                f"SELECT {_EXPENSE_COLUMNS} FROM expense.expenses WHERE {' AND '.join(where)} "
                f"ORDER BY {column} {direction}, id {direction} LIMIT :limit"
            ),
            params,
        )
        return await self._expenses(rows.all())

    async def changes_since(
        self,
        group_ids: Sequence[str],
        after: tuple[int, str] | None,
        upto: tuple[int, str] | None,
        limit: int,
    ) -> list[Expense | Comment]:
        """Expenses and comments written after `after` (and up to `upto`), oldest write first.
        Both are keyed by (change_xid, id) and ids are UUIDs, so one cursor orders the two."""
        where, params = _change_bounds(after, upto)
        params |= {"groups": list(group_ids), "limit": limit}
        picked = (
            await self.conn.execute(
                text(
                    f"SELECT 'expense' AS kind, change_xid, id FROM expense.expenses WHERE {where} "
                    f"UNION ALL SELECT 'comment', change_xid, id FROM expense.comments WHERE {where} "
                    "ORDER BY change_xid, id LIMIT :limit"
                ),
                params,
            )
        ).all()
        expense_ids = [str(r.id) for r in picked if r.kind == "expense"]
        comment_ids = [str(r.id) for r in picked if r.kind == "comment"]
        found: dict[str, Expense | Comment] = {}
        if expense_ids:
            rows = await self.conn.execute(
                text(f"SELECT {_EXPENSE_COLUMNS} FROM expense.expenses WHERE id = ANY(CAST(:ids AS uuid[]))"),
                {"ids": expense_ids},
            )
            found |= {e.id: e for e in await self._expenses(rows.all())}
        if comment_ids:
            rows = await self.conn.execute(
                text(f"SELECT {_COMMENT_COLUMNS} FROM expense.comments WHERE id = ANY(CAST(:ids AS uuid[]))"),
                {"ids": comment_ids},
            )
            found |= {c.id: c for c in (_comment(r) for r in rows)}
        return [found[str(r.id)] for r in picked]

    # --- comments -----------------------------------------------------------------------------

    async def insert_comment(self, group_id: str, expense_id: str, author: str, body: str) -> Comment:
        row = (
            await self.conn.execute(
                text(
                    "INSERT INTO expense.comments (id, group_id, expense_id, author, body) "
                    f"VALUES (:id, :g, :e, :a, :b) RETURNING {_COMMENT_COLUMNS}"
                ),
                {"id": str(uuid.uuid4()), "g": group_id, "e": expense_id, "a": author, "b": body},
            )
        ).one()
        await self._count_comment(expense_id, 1)
        return _comment(row)

    async def _count_comment(self, expense_id: str, delta: int) -> None:
        # The count is part of the expense a client caches, so the change feed hands it out
        # again, as an update (a deleted expense stays a tombstone).
        await self.conn.execute(
            text(
                "UPDATE expense.expenses SET comment_count = comment_count + :d, "
                "last_change = CASE WHEN deleted_at IS NULL THEN 'updated' ELSE last_change END, "
                "change_xid = pg_current_xact_id() WHERE id = :id"
            ),
            {"d": delta, "id": expense_id},
        )

    async def comments(self, expense_id: str, *, after: list[Any] | None, limit: int) -> list[Comment]:
        where = ["expense_id = :e", "deleted_at IS NULL"]
        params: dict[str, Any] = {"e": expense_id, "limit": limit}
        if after:
            where.append("(created_at, id) > (CAST(:ts AS timestamptz), CAST(:id AS uuid))")
            params["ts"], params["id"] = after
        rows = await self.conn.execute(
            text(
                f"SELECT {_COMMENT_COLUMNS} FROM expense.comments "
                f"WHERE {' AND '.join(where)} ORDER BY created_at, id LIMIT :limit"
            ),
            params,
        )
        return [_comment(r) for r in rows]

    async def get_comment(self, expense_id: str, comment_id: str) -> Comment | None:
        if not is_uuid(comment_id):
            return None
        row = (
            await self.conn.execute(
                text(
                    f"SELECT {_COMMENT_COLUMNS} FROM expense.comments "
                    "WHERE id = :id AND expense_id = :e AND deleted_at IS NULL"
                ),
                {"id": comment_id, "e": expense_id},
            )
        ).first()
        return _comment(row) if row else None

    async def delete_comment(self, comment: Comment) -> None:
        await self.conn.execute(
            text(
                "UPDATE expense.comments SET deleted_at = now(), change_xid = pg_current_xact_id() "
                "WHERE id = :id"
            ),
            {"id": comment.id},
        )
        await self._count_comment(comment.expense_id, -1)

    # --- activities ---------------------------------------------------------------------------

    async def insert_entry(self, entry: Entry) -> bool:
        """One feed entry from another service's event; False when its event was already
        recorded (the queue delivers at least once, and the id is derived from the event's)."""
        result = await self.conn.execute(
            text(
                "INSERT INTO expense.activities (id, group_id, actor, verb, subject, details, currency, "
                "amount_minor, effects, created_at) VALUES (:id, :g, :actor, :verb, :subject, "
                "CAST(:details AS jsonb), :currency, :amount, CAST(:effects AS jsonb), :at) "
                "ON CONFLICT (id) DO NOTHING"
            ),
            {
                "id": entry.id,
                "g": entry.group_id,
                "actor": entry.actor,
                "verb": entry.verb,
                "subject": entry.subject,
                "details": json.dumps(entry.details),
                "currency": entry.currency,
                "amount": entry.amount_minor,
                "effects": json.dumps(entry.effects),
                "at": entry.created_at,
            },
        )
        return bool(result.rowcount)

    async def activities(
        self, group_ids: Sequence[str], *, before: int | None, limit: int
    ) -> list[tuple[int, Activity]]:
        where = ["group_id = ANY(CAST(:groups AS uuid[]))"]
        params: dict[str, Any] = {"groups": list(group_ids), "limit": limit}
        if before is not None:
            where.append("seq < :before")
            params["before"] = before
        rows = await self.conn.execute(
            text(
                "SELECT seq, id, group_id, actor, verb, subject, details, currency, amount_minor, effects, "
                f"created_at FROM expense.activities WHERE {' AND '.join(where)} "
                "ORDER BY seq DESC LIMIT :limit"
            ),
            params,
        )
        return [
            (
                int(r.seq),
                Activity(
                    id=str(r.id),
                    group_id=str(r.group_id),
                    actor=r.actor,
                    verb=r.verb,
                    subject=r.subject,
                    details=dict(r.details),
                    currency=r.currency,
                    amount_minor=int(r.amount_minor),
                    effects={k: int(v) for k, v in r.effects.items()},
                    created_at=r.created_at,
                ),
            )
            for r in rows
        ]

    # --- recurring rules ----------------------------------------------------------------------

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
        row = (
            await self.conn.execute(
                text(
                    "INSERT INTO expense.recurring_rules (id, group_id, frequency, interval_count, "
                    "start_date, end_date, next_occurrence, template, paused, creator) "
                    "VALUES (:id, :g, :f, :i, :s, :e, :n, "
                    f"CAST(:t AS jsonb), :p, :c) RETURNING {_RULE_COLUMNS}"
                ),
                {
                    "id": str(uuid.uuid4()),
                    "g": group_id,
                    "f": schedule.frequency.value,
                    "i": schedule.interval,
                    "s": schedule.start_date,
                    "e": schedule.end_date,
                    "n": next_occurrence,
                    "t": json.dumps(draft_to_json(template)),
                    "p": paused,
                    "c": creator,
                },
            )
        ).one()
        return _rule(row)

    async def get_rule(self, group_id: str, rule_id: str, *, lock: bool = False) -> Rule | None:
        if not is_uuid(rule_id):  # the group's id was read by libs.names.group
            return None
        row = (
            await self.conn.execute(
                text(
                    f"SELECT {_RULE_COLUMNS} FROM expense.recurring_rules "
                    "WHERE id = :id AND group_id = :g AND deleted_at IS NULL"
                    + (" FOR UPDATE" if lock else "")
                ),
                {"id": rule_id, "g": group_id},
            )
        ).first()
        return _rule(row) if row else None

    async def update_rule(
        self,
        rule_id: str,
        schedule: Schedule,
        template: Draft,
        paused: bool,
        next_occurrence: date | None,
    ) -> None:
        await self.conn.execute(
            text(
                "UPDATE expense.recurring_rules SET frequency = :f, interval_count = :i, end_date = :e, "
                "next_occurrence = :n, template = CAST(:t AS jsonb), paused = :p, version = version + 1, "
                "updated_at = now() WHERE id = :id"
            ),
            {
                "id": rule_id,
                "f": schedule.frequency.value,
                "i": schedule.interval,
                "e": schedule.end_date,
                "n": next_occurrence,
                "t": json.dumps(draft_to_json(template)),
                "p": paused,
            },
        )

    async def delete_rule(self, rule_id: str) -> None:
        await self.conn.execute(
            text("UPDATE expense.recurring_rules SET deleted_at = now() WHERE id = :id"), {"id": rule_id}
        )

    async def due_rules(self, run_date: date, group_id: str | None) -> list[tuple[str, str]]:
        """(group id, rule id) of the live rules with an occurrence due by ``run_date``, soonest first."""
        scope = " AND group_id = :g" if group_id is not None else ""
        rows = await self.conn.execute(
            text(
                "SELECT group_id, id FROM expense.recurring_rules WHERE deleted_at IS NULL AND NOT paused "
                f"AND next_occurrence <= :d{scope} ORDER BY next_occurrence, id"
            ),
            {"d": run_date, "g": group_id},
        )
        return [(str(r.group_id), str(r.id)) for r in rows]

    async def rules(self, group_id: str, *, after: list[Any] | None, limit: int) -> list[Rule]:
        """Soonest next occurrence first; ended rules (no next occurrence) last."""
        where = ["group_id = :g", "deleted_at IS NULL"]
        params: dict[str, Any] = {"g": group_id, "limit": limit}
        if after:
            # Keyset over (next_occurrence NULLS LAST, id): '9999-12-31' stands in for NULL.
            where.append(
                "(COALESCE(next_occurrence, DATE '9999-12-31'), id) > (CAST(:n AS date), CAST(:id AS uuid))"
            )
            params["n"], params["id"] = after
        rows = await self.conn.execute(
            text(
                f"SELECT {_RULE_COLUMNS} FROM expense.recurring_rules WHERE {' AND '.join(where)} "
                "ORDER BY COALESCE(next_occurrence, DATE '9999-12-31'), id LIMIT :limit"
            ),
            params,
        )
        return [_rule(r) for r in rows]

    # --- reports ---------------------------------------------------------------------------

    async def spending_rows(
        self, group_ids: list[str], currency: str, start: date, end: date
    ) -> list[SpendingRow]:
        rows = await self.conn.execute(
            text(
                "SELECT id, category, date_trunc('month', expense_date)::date AS month, total_minor "
                "FROM expense.expenses WHERE group_id = ANY(CAST(:groups AS uuid[])) AND currency = :cur "
                "AND deleted_at IS NULL AND expense_date BETWEEN :s AND :e"
            ),
            {"groups": group_ids, "cur": currency, "s": start, "e": end},
        )
        return [SpendingRow(str(r.id), Category(r.category), r.month, int(r.total_minor)) for r in rows]

    async def owed_by(self, entry_ids: Sequence[str], user_id: str) -> dict[str, int]:
        return await reports.owed_by(self.conn, entry_ids, user_id)

    async def totals_by_user(self, entry_ids: Sequence[str]) -> list[tuple[str, int, int]]:
        return await reports.totals_by_user(self.conn, entry_ids)

    async def active_entries(
        self, group_id: str, kind: str, start: date | None, end: date | None
    ) -> list[reports.Line]:
        return await reports.active_entries(self.conn, group_id, kind, start, end)
