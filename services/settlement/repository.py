"""settlement tables with SQLAlchemy Core on the caller's connection (ledger rows go through libs.ledger)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.settlement.domain import Method, Settlement

_COLUMNS = (
    "id, group_id, payer, payee, currency, amount_minor, settle_date, note, method, payment_reference, "
    "creator, deleted, version, created_at, deleted_at, last_change, changed_at, "
    "change_xid::text AS change_xid"
)


def _settlement(row: Any) -> Settlement:
    return Settlement(
        id=str(row.id),
        group_id=str(row.group_id),
        payer=row.payer,
        payee=row.payee,
        currency=row.currency,
        amount_minor=int(row.amount_minor),
        transaction_date=row.settle_date,
        note=row.note,
        method=Method(row.method),
        payment_reference=row.payment_reference,
        creator=row.creator,
        deleted=row.deleted,
        version=row.version,
        created_at=row.created_at,
        deleted_at=row.deleted_at,
        last_change=row.last_change,
        changed_at=row.changed_at,
        change_key=(int(row.change_xid), str(row.id)),
    )


async def insert(conn: AsyncConnection, s: Settlement) -> Settlement:
    row = (
        await conn.execute(
            text(
                "INSERT INTO settlement.settlements (id, group_id, payer, payee, currency, amount_minor, "
                "settle_date, note, method, payment_reference, creator) "
                "VALUES (:id, :g, :payer, :payee, :c, :a, :d, :note, :m, :ref, :creator) "
                f"RETURNING {_COLUMNS}"
            ),
            {
                "id": s.id,
                "g": s.group_id,
                "payer": s.payer,
                "payee": s.payee,
                "c": s.currency,
                "a": s.amount_minor,
                "d": s.transaction_date,
                "note": s.note,
                "m": s.method.value,
                "ref": s.payment_reference,
                "creator": s.creator,
            },
        )
    ).one()
    return _settlement(row)


async def get(
    conn: AsyncConnection, group_id: str, settlement_id: str, *, lock: bool = False
) -> Settlement | None:
    row = (
        await conn.execute(
            text(
                f"SELECT {_COLUMNS} FROM settlement.settlements WHERE id = :id AND group_id = :g"
                + (" FOR UPDATE" if lock else "")
            ),
            {"id": settlement_id, "g": group_id},
        )
    ).first()
    return _settlement(row) if row else None


async def set_deleted(conn: AsyncConnection, settlement_id: str, deleted: bool) -> Settlement:
    row = (
        await conn.execute(
            text(
                "UPDATE settlement.settlements SET deleted = :d, version = version + 1, "
                "deleted_at = CASE WHEN :d THEN now() END, "
                "last_change = CASE WHEN :d THEN 'deleted' ELSE 'restored' END, changed_at = now(), "
                "change_xid = pg_current_xact_id() "
                f"WHERE id = :id RETURNING {_COLUMNS}"
            ),
            {"d": deleted, "id": settlement_id},
        )
    ).one()
    return _settlement(row)


async def page(
    conn: AsyncConnection,
    group_id: str,
    *,
    user: str,
    start: date | None,
    end: date | None,
    show_deleted: bool,
    after: list[Any] | None,
    limit: int,
) -> list[Settlement]:
    """Newest transaction date first; ties by creation time, then id (the keyset of the page token)."""
    where = ["group_id = :g"]
    params: dict[str, Any] = {"g": group_id, "limit": limit}
    if user:
        where.append("(payer = :u OR payee = :u)")
        params["u"] = user
    if start is not None:
        where.append("settle_date >= :start")
        params["start"] = start
    if end is not None:
        where.append("settle_date <= :end")
        params["end"] = end
    if not show_deleted:
        where.append("NOT deleted")
    if after:
        where.append(
            "(settle_date, created_at, id) < "
            "(CAST(:a_date AS date), CAST(:a_ts AS timestamptz), CAST(:a_id AS uuid))"
        )
        params |= {"a_date": after[0], "a_ts": after[1], "a_id": after[2]}
    rows = await conn.execute(
        text(
            f"SELECT {_COLUMNS} FROM settlement.settlements WHERE {' AND '.join(where)} "
            "ORDER BY settle_date DESC, created_at DESC, id DESC LIMIT :limit"
        ),
        params,
    )
    return [_settlement(r) for r in rows]


async def changes_since(
    conn: AsyncConnection,
    group_ids: Sequence[str],
    after: tuple[int, str] | None,
    upto: tuple[int, str] | None,
    limit: int,
) -> list[Settlement]:
    """Settlements written after `after` (and up to `upto`), oldest write first, only by
    transactions that are over: anything newer than the oldest running transaction waits
    for the next call, so a cursor never skips a late commit."""
    where = [
        "group_id = ANY(CAST(:groups AS uuid[]))",
        "change_xid < pg_snapshot_xmin(pg_current_snapshot())",
    ]
    params: dict[str, Any] = {"groups": list(group_ids), "limit": limit}
    if after:
        where.append("(change_xid, id) > (CAST(:xid AS xid8), CAST(:id AS uuid))")
        params["xid"], params["id"] = str(after[0]), after[1]
    if upto:
        where.append("(change_xid, id) <= (CAST(:upto_xid AS xid8), CAST(:upto_id AS uuid))")
        params["upto_xid"], params["upto_id"] = str(upto[0]), upto[1]
    rows = await conn.execute(
        text(
            f"SELECT {_COLUMNS} FROM settlement.settlements WHERE {' AND '.join(where)} "
            "ORDER BY change_xid, id LIMIT :limit"
        ),
        params,
    )
    return [_settlement(r) for r in rows]
