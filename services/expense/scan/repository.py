"""expense.receipt_scans with SQLAlchemy Core: a part of SqlExpenseRepositories
(services.expense.repository), on its connection."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from libs.validation import is_uuid
from services.expense.scan.draft import Draft, ScanRow, from_json, to_json

_COLUMNS = (
    "id, group_id, source_key, content_type, size_bytes, source_expense_id, currency_hint, state, engine, "
    "draft, error, attempts, expense_id, creator, created_at, completed_at"
)


def _row(row: Any) -> ScanRow:
    return ScanRow(
        id=str(row.id),
        group_id=str(row.group_id),
        source_key=row.source_key,
        content_type=row.content_type,
        size_bytes=int(row.size_bytes),
        source_expense_id=str(row.source_expense_id) if row.source_expense_id else None,
        currency_hint=row.currency_hint,
        state=row.state,
        engine=row.engine,
        draft=from_json(row.draft) if row.draft else None,
        error=row.error,
        attempts=int(row.attempts),
        expense_id=str(row.expense_id) if row.expense_id else None,
        creator=row.creator,
        created_at=row.created_at,
        completed_at=row.completed_at,
    )


class SqlScanTables:
    conn: AsyncConnection

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
        row = (
            await self.conn.execute(
                text(
                    "INSERT INTO expense.receipt_scans (id, group_id, source_key, content_type, size_bytes, "
                    "source_expense_id, currency_hint, creator) VALUES (:id, :g, :k, :t, :s, :e, :c, :who) "
                    f"RETURNING {_COLUMNS}"
                ),
                {
                    "id": scan_id,
                    "g": group_id,
                    "k": key,
                    "t": content_type,
                    "s": size_bytes,
                    "e": source_expense_id,
                    "c": currency_hint,
                    "who": creator,
                },
            )
        ).one()
        return _row(row)

    async def get_scan(self, group_id: str, scan_id: str, *, lock: bool = False) -> ScanRow | None:
        if not is_uuid(scan_id):
            return None
        sql = f"SELECT {_COLUMNS} FROM expense.receipt_scans WHERE group_id = :g AND id = :id"
        row = (
            await self.conn.execute(
                text(sql + (" FOR UPDATE" if lock else "")), {"g": group_id, "id": scan_id}
            )
        ).first()
        return _row(row) if row else None

    async def claim_scan(self, scan_id: str) -> ScanRow | None:
        """Marks a pending (or crashed running) scan as running; None when it is already done."""
        row = (
            await self.conn.execute(
                text(
                    "UPDATE expense.receipt_scans SET state = 'running', attempts = attempts + 1 "
                    f"WHERE id = :id AND state IN ('pending', 'running') RETURNING {_COLUMNS}"
                ),
                {"id": scan_id},
            )
        ).first()
        return _row(row) if row else None

    async def finish_scan(self, scan_id: str, *, engine: str, draft: Draft | None, error: str) -> None:
        await self.conn.execute(
            text(
                "UPDATE expense.receipt_scans SET state = :state, engine = :engine, "
                "draft = CAST(:draft AS jsonb), error = :error, completed_at = now() "
                "WHERE id = :id AND state = 'running'"
            ),
            {
                "id": scan_id,
                "state": "failed" if draft is None else "succeeded",
                "engine": engine,
                "draft": json.dumps(to_json(draft)) if draft is not None else None,
                "error": error,
            },
        )

    async def link_scan_expense(self, scan_id: str, expense_id: str) -> bool:
        """Records the expense made from the scan; False when one was made already."""
        row = (
            await self.conn.execute(
                text(
                    "UPDATE expense.receipt_scans SET expense_id = :e "
                    "WHERE id = :id AND expense_id IS NULL RETURNING 1"
                ),
                {"id": scan_id, "e": expense_id},
            )
        ).first()
        return row is not None
