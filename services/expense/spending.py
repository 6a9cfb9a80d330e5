"""Spending summaries for charts: totals by category, by month and by member, in one currency."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.expense.domain import Category


@dataclass(frozen=True)
class Summary:
    total_minor: int
    categories: list[tuple[Category, int, int]]  # category, total, count; largest first
    months: list[tuple[date, int]]  # first day of month, total; oldest first, gaps filled
    members: list[tuple[str, int, int]]  # user, paid, owed


def months_back(day: date, months: int) -> date:
    """The first day of the month ``months`` before ``day``'s month."""
    index = day.year * 12 + day.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


def month_starts(start: date, end: date) -> list[date]:
    out, current = [], date(start.year, start.month, 1)
    while current <= end:
        out.append(current)
        current = date(current.year + current.month // 12, current.month % 12 + 1, 1)
    return out


async def summarize(
    conn: AsyncConnection,
    group_ids: list[str],
    currency: str,
    start: date,
    end: date,
    *,
    caller: str,
    caller_share_only: bool,
    with_members: bool,
) -> Summary:
    # The amount per expense: the whole total, or the caller's owed part from the ledger.
    amount = (
        "(SELECT p.owed_minor FROM ledger.postings p WHERE p.entry_id = e.id AND p.user_id = :caller)"
        if caller_share_only
        else "e.total_minor"
    )
    params: dict[str, Any] = {"groups": group_ids, "cur": currency, "s": start, "e": end, "caller": caller}
    base = (
        f"SELECT e.id, e.category, date_trunc('month', e.expense_date)::date AS month, "
        f"coalesce({amount}, 0) AS amount FROM expense.expenses e "
        "WHERE e.group_id = ANY(CAST(:groups AS uuid[])) AND e.currency = :cur AND e.deleted_at IS NULL "
        "AND e.expense_date BETWEEN :s AND :e"
    )
    rows = (
        await conn.execute(
            text(
                f"WITH x AS ({base}) SELECT category, sum(amount) AS total, "
                "count(*) FILTER (WHERE amount > 0) AS n "
                "FROM x GROUP BY category HAVING sum(amount) > 0 ORDER BY total DESC, category"
            ),
            params,
        )
    ).all()
    categories = [(Category(r.category), int(r.total), int(r.n)) for r in rows]
    by_month = {
        r.month: int(r.total)
        for r in await conn.execute(
            text(f"WITH x AS ({base}) SELECT month, sum(amount) AS total FROM x GROUP BY month"), params
        )
    }
    members: list[tuple[str, int, int]] = []
    if with_members:
        members = [
            (r.user_id, int(r.paid), int(r.owed))
            for r in await conn.execute(
                text(
                    f"WITH x AS ({base}) SELECT p.user_id, sum(p.paid_minor) AS paid, "
                    "sum(p.owed_minor) AS owed "
                    "FROM x JOIN ledger.postings p ON p.entry_id = x.id GROUP BY p.user_id ORDER BY p.user_id"
                ),
                params,
            )
        ]
    return Summary(
        total_minor=sum(t for _, t, _ in categories),
        categories=categories,
        months=[(m, by_month.get(m, 0)) for m in month_starts(start, end)],
        members=members,
    )
