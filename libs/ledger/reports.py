"""Ledger reads for reports, charts and exports: entries and postings, never a write.

The caller picks the entries (from its own tables, by their ids, which are the
entries' ids) and the ledger answers for them, so no query outside this package
joins the ledger's tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from libs.ledger.postings import Posting
from libs.ledger.store import postings_of


@dataclass(frozen=True)
class Line:
    """One entry with its postings, as an export lists it."""

    id: str
    kind: str
    currency: str
    total_minor: int
    created_at: datetime
    postings: dict[str, Posting]


async def active_entries(
    conn: AsyncConnection, group_id: str, kind: str, start: date | None, end: date | None
) -> list[Line]:
    """A group's active entries of one kind recorded in the range (both ends optional,
    inclusive, by the day they were recorded), oldest first."""
    where = ["group_id = :g", "kind = :k", "active"]
    params: dict[str, Any] = {"g": group_id, "k": kind}
    if start:
        where.append("created_at::date >= :s")
        params["s"] = start
    if end:
        where.append("created_at::date <= :e")
        params["e"] = end
    rows = (
        await conn.execute(
            text(
                "SELECT id, kind, currency, total_minor, created_at FROM ledger.entries "
                f"WHERE {' AND '.join(where)} ORDER BY created_at, id"
            ),
            params,
        )
    ).all()
    postings = await postings_of(conn, [str(r.id) for r in rows])
    return [
        Line(str(r.id), r.kind, r.currency, int(r.total_minor), r.created_at, postings.get(str(r.id), {}))
        for r in rows
    ]


async def owed_by(conn: AsyncConnection, entry_ids: Sequence[str], user_id: str) -> dict[str, int]:
    """What one user owes in each of the entries: entry id → owed (entries without them left out)."""
    if not entry_ids:
        return {}
    rows = await conn.execute(
        text(
            "SELECT entry_id, owed_minor FROM ledger.postings "
            "WHERE entry_id = ANY(CAST(:ids AS uuid[])) AND user_id = :u"
        ),
        {"ids": list(entry_ids), "u": user_id},
    )
    return {str(r.entry_id): int(r.owed_minor) for r in rows}


async def totals_by_user(conn: AsyncConnection, entry_ids: Sequence[str]) -> list[tuple[str, int, int]]:
    """(user, paid, owed) summed over the entries, ordered by user id."""
    if not entry_ids:
        return []
    rows = await conn.execute(
        text(
            "SELECT user_id, sum(paid_minor) AS paid, sum(owed_minor) AS owed FROM ledger.postings "
            "WHERE entry_id = ANY(CAST(:ids AS uuid[])) GROUP BY user_id ORDER BY user_id"
        ),
        {"ids": list(entry_ids)},
    )
    return [(r.user_id, int(r.paid), int(r.owed)) for r in rows]


@dataclass(frozen=True)
class Movement:
    """Active entries of one kind and currency created in a period, and the money they moved."""

    kind: str
    currency: str
    entries: int
    total_minor: int


async def movements(conn: AsyncConnection, start: datetime, end: datetime) -> list[Movement]:
    """Per kind and currency, ordered by both, for entries created in [start, end)."""
    rows = await conn.execute(
        text(
            "SELECT kind, currency, count(*) AS n, sum(total_minor) AS total FROM ledger.entries "
            "WHERE created_at >= :s AND created_at < :e AND active "
            "GROUP BY kind, currency ORDER BY kind, currency"
        ),
        {"s": start, "e": end},
    )
    return [Movement(r.kind, r.currency, int(r.n), int(r.total)) for r in rows]


async def active_groups(conn: AsyncConnection, start: datetime, end: datetime) -> int:
    """How many groups had an entry created in [start, end), deleted ones included."""
    row = await conn.execute(
        text(
            "SELECT count(DISTINCT group_id) FROM ledger.entries WHERE created_at >= :s AND created_at < :e"
        ),
        {"s": start, "e": end},
    )
    return int(row.scalar_one())
