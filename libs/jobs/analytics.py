"""The nightly analytics export: anonymised daily aggregates to S3.

Only counts and sums leave the database (events by type; ledger entries and
money moved by kind and currency; how many groups were active), never an id,
name or contact, so the files can feed dashboards and a warehouse freely. One
object per day: re-running a day overwrites it with the same content.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from libs import clock
from libs.db.database import Database
from libs.ledger import reports

# Days are business days, like the rest of the product's reporting.
TIME_ZONE = clock.BUSINESS_ZONE


def object_key(day: date) -> str:
    return f"analytics/daily/{day.isoformat()}.json"


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=TIME_ZONE).astimezone(UTC)
    return start, start + timedelta(days=1)


async def aggregates(conn: AsyncConnection, day: date) -> dict[str, Any]:
    start, end = day_bounds(day)
    window = {"s": start, "e": end}
    events = await conn.execute(
        text(
            "SELECT event_type, count(*) AS n FROM kit.outbox "
            "WHERE created_at >= :s AND created_at < :e GROUP BY event_type ORDER BY event_type"
        ),
        window,
    )
    return {
        "day": day.isoformat(),
        "time_zone": str(TIME_ZONE),
        "events": {r.event_type: int(r.n) for r in events},
        "ledger": [
            {"kind": m.kind, "currency": m.currency, "entries": m.entries, "total_minor": m.total_minor}
            for m in await reports.movements(conn, start, end)
        ],
        "active_groups": await reports.active_groups(conn, start, end),
    }


def analytics_job(db: Database, s3: Any, bucket: str) -> Any:
    """The job callable: exports the Indian calendar day before the one the run starts in."""

    async def export(period_start: datetime) -> int:
        day = period_start.astimezone(TIME_ZONE).date() - timedelta(days=1)
        async with db.read() as conn:
            data = await aggregates(conn, day)
        body = json.dumps(data, sort_keys=True).encode()
        await asyncio.to_thread(
            s3.put_object, Bucket=bucket, Key=object_key(day), Body=body, ContentType="application/json"
        )
        return sum(data["events"].values())

    return export
