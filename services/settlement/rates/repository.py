"""settlement.exchange_rates: one row per day and currency, as the source published it."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.settlement.rates.reference import ReferenceRates


async def store(conn: AsyncConnection, rates: ReferenceRates) -> bool:
    """Stores the day unless it is stored already (a source never revises a published day)."""
    result = await conn.execute(
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


async def newest(conn: AsyncConnection, on_or_before: date | None) -> ReferenceRates | None:
    rows = (
        await conn.execute(
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
