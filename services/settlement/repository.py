"""The settlement schema in PostgreSQL: the SQL adapter of ports.SettlementRepositories
(ledger rows go through libs.ledger.book.SqlLedger)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from libs.db.repositories import SqlRepositories
from libs.ledger.book import SqlLedger
from services.settlement.domain import Method, Settlement
from services.settlement.rates.reference import ReferenceRates

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


class SqlSettlementRepositories(SqlRepositories):
    """The settlement schema (settlements, exchange_rates) and the ledger on one transaction's connection."""

    def __init__(self, conn: AsyncConnection):
        super().__init__(conn)
        self.ledger = SqlLedger(conn)

    async def insert(self, s: Settlement) -> Settlement:
        row = (
            await self.conn.execute(
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

    async def get(self, group_id: str, settlement_id: str, *, lock: bool = False) -> Settlement | None:
        row = (
            await self.conn.execute(
                text(
                    f"SELECT {_COLUMNS} FROM settlement.settlements WHERE id = :id AND group_id = :g"
                    + (" FOR UPDATE" if lock else "")
                ),
                {"id": settlement_id, "g": group_id},
            )
        ).first()
        return _settlement(row) if row else None

    async def set_deleted(self, settlement_id: str, deleted: bool) -> Settlement:
        row = (
            await self.conn.execute(
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
        self,
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
        rows = await self.conn.execute(
            text(
                f"SELECT {_COLUMNS} FROM settlement.settlements WHERE {' AND '.join(where)} "
                "ORDER BY settle_date DESC, created_at DESC, id DESC LIMIT :limit"
            ),
            params,
        )
        return [_settlement(r) for r in rows]

    async def changes_since(
        self,
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
        rows = await self.conn.execute(
            text(
                f"SELECT {_COLUMNS} FROM settlement.settlements WHERE {' AND '.join(where)} "
                "ORDER BY change_xid, id LIMIT :limit"
            ),
            params,
        )
        return [_settlement(r) for r in rows]

    # -- settlement.exchange_rates: one row per day and currency, as the source published it

    async def store_rates(self, rates: ReferenceRates) -> bool:
        """Stores the day unless it is stored already (a source never revises a published day)."""
        result = await self.conn.execute(
            text(
                "INSERT INTO settlement.exchange_rates (rate_date, currency, source, base, per_base) "
                "SELECT :d, r.currency, :s, :b, r.per_base "
                "FROM unnest(CAST(:codes AS text[]), CAST(:values AS numeric[])) AS r(currency, per_base) "
                "ON CONFLICT (rate_date, currency) DO NOTHING"
            ),
            {
                "d": rates.day,
                "s": rates.source,
                "b": rates.base,
                "codes": list(rates.per_base),
                "values": [str(v) for v in rates.per_base.values()],
            },
        )
        return bool(result.rowcount)

    async def newest_rates(self, on_or_before: date | None) -> ReferenceRates | None:
        rows = (
            await self.conn.execute(
                text(
                    "SELECT rate_date, source, base, currency, per_base FROM settlement.exchange_rates "
                    "WHERE rate_date = (SELECT max(rate_date) FROM settlement.exchange_rates "
                    "                   WHERE CAST(:d AS date) IS NULL OR rate_date <= CAST(:d AS date))"
                ),
                {"d": on_or_before},
            )
        ).all()
        if not rows:
            return None
        first = rows[0]
        return ReferenceRates(
            day=first.rate_date,
            source=first.source,
            base=first.base,
            per_base={row.currency: Decimal(row.per_base) for row in rows},
        )
