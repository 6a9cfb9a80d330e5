"""Tables behind receipts, exports and imports (expense schema): a part of
SqlExpenseRepositories (services.expense.repository), on its connection."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from libs.ledger import store
from services.expense.files.report_data import MAX_EXPORT_ATTEMPTS, ExpenseLine, ExportRow

EXPORT_LEASE_SECONDS = 120


_EXPORT_COLUMNS = (
    "id, group_id, format, state, start_date, end_date, snapshot, object_key, error, attempts, creator, "
    "created_at, completed_at"
)


def _export(row: Any) -> ExportRow:
    snapshot = row.snapshot if isinstance(row.snapshot, dict) else json.loads(row.snapshot)
    return ExportRow(
        id=str(row.id),
        group_id=str(row.group_id),
        format=row.format,
        state=row.state,
        start_date=row.start_date,
        end_date=row.end_date,
        snapshot=snapshot,
        object_key=row.object_key,
        error=row.error,
        attempts=row.attempts,
        creator=row.creator,
        created_at=row.created_at,
        completed_at=row.completed_at,
    )


class SqlFileTables:
    conn: AsyncConnection

    async def set_receipt(self, expense_id: str, key: str, content_type: str, size: int, editor: str) -> None:
        await self.conn.execute(
            text(
                "UPDATE expense.expenses SET receipt_key = :k, receipt_content_type = :t, receipt_size = :s, "
                "receipt_uploaded_at = now(), last_editor = :who, version = version + 1, updated_at = now(), "
                "last_change = 'updated', change_xid = pg_current_xact_id() WHERE id = :id"
            ),
            {"k": key, "t": content_type, "s": size, "who": editor, "id": expense_id},
        )

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
        row = (
            await self.conn.execute(
                text(
                    "INSERT INTO expense.exports (id, group_id, format, start_date, end_date, snapshot, "
                    "creator) "
                    f"VALUES (:id, :g, :f, :s, :e, CAST(:snap AS jsonb), :c) RETURNING {_EXPORT_COLUMNS}"
                ),
                {
                    "id": export_id,
                    "g": group_id,
                    "f": fmt,
                    "s": start,
                    "e": end,
                    "snap": json.dumps(snapshot),
                    "c": creator,
                },
            )
        ).one()
        return _export(row)

    async def get_export(self, group_id: str, export_id: str) -> ExportRow | None:
        row = (
            await self.conn.execute(
                text(f"SELECT {_EXPORT_COLUMNS} FROM expense.exports WHERE id = :id AND group_id = :g"),
                {"id": export_id, "g": group_id},
            )
        ).first()
        return _export(row) if row else None

    async def claim_export(self) -> ExportRow | None:
        """The oldest export nobody is building (or whose builder's lease ran out), now leased to us."""
        row = (
            await self.conn.execute(
                text(
                    "UPDATE expense.exports SET state = 'running', attempts = attempts + 1, "
                    f"lease_until = now() + interval '{EXPORT_LEASE_SECONDS} seconds' "
                    "WHERE id = (SELECT id FROM expense.exports "
                    "WHERE state = 'pending' OR (state = 'running' AND lease_until < now()) "
                    "ORDER BY created_at FOR UPDATE SKIP LOCKED LIMIT 1) "
                    f"RETURNING {_EXPORT_COLUMNS}"
                )
            )
        ).first()
        return _export(row) if row else None

    async def finish_export(self, export_id: str, object_key: str) -> None:
        await self.conn.execute(
            text(
                "UPDATE expense.exports SET state = 'succeeded', object_key = :k, completed_at = now(), "
                "lease_until = NULL WHERE id = :id"
            ),
            {"k": object_key, "id": export_id},
        )

    async def fail_export(self, export_id: str, attempts: int, error: str) -> None:
        final = attempts >= MAX_EXPORT_ATTEMPTS
        await self.conn.execute(
            text(
                "UPDATE expense.exports SET state = :state, error = :err, lease_until = NULL, "
                "completed_at = CASE WHEN :final THEN now() ELSE NULL END WHERE id = :id"
            ),
            {"state": "failed" if final else "pending", "err": error, "final": final, "id": export_id},
        )

    async def expense_lines(self, group_id: str, start: date | None, end: date | None) -> list[ExpenseLine]:
        """Live expenses in the date range with their postings, oldest first (one query each)."""
        where = ["e.group_id = :g", "e.deleted_at IS NULL"]
        params: dict[str, Any] = {"g": group_id}
        if start:
            where.append("e.expense_date >= :s")
            params["s"] = start
        if end:
            where.append("e.expense_date <= :e")
            params["e"] = end
        rows = (
            await self.conn.execute(
                text(
                    "SELECT e.id, e.expense_date, e.description, e.category, e.currency, e.total_minor "
                    f"FROM expense.expenses e WHERE {' AND '.join(where)} "
                    "ORDER BY e.expense_date, e.created_at, e.id"
                ),
                params,
            )
        ).all()
        postings = await store.postings_of(self.conn, [str(r.id) for r in rows])
        return [
            ExpenseLine(
                id=str(r.id),
                expense_date=r.expense_date,
                description=r.description,
                category=r.category,
                currency=r.currency,
                total_minor=int(r.total_minor),
                postings=postings.get(str(r.id), {}),
            )
            for r in rows
        ]

    async def imported(self, group_id: str, row_ids: list[str]) -> set[str]:
        rows = await self.conn.execute(
            text(
                "SELECT row_id FROM expense.imported_rows "
                "WHERE group_id = :g AND row_id = ANY(CAST(:ids AS uuid[]))"
            ),
            {"g": group_id, "ids": row_ids},
        )
        return {str(r.row_id) for r in rows}

    async def mark_imported(self, group_id: str, row_id: str, kind: str, target: str) -> bool:
        result = await self.conn.execute(
            text(
                "INSERT INTO expense.imported_rows (group_id, row_id, kind, target) VALUES (:g, :r, :k, :t) "
                "ON CONFLICT DO NOTHING"
            ),
            {"g": group_id, "r": row_id, "k": kind, "t": target},
        )
        return bool(result.rowcount)
