"""Spending summaries for charts: totals by category, by month and by member, in one currency."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from libs.ledger import reports
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
    rows = (
        await conn.execute(
            text(
                "SELECT id, category, date_trunc('month', expense_date)::date AS month, total_minor "
                "FROM expense.expenses WHERE group_id = ANY(CAST(:groups AS uuid[])) AND currency = :cur "
                "AND deleted_at IS NULL AND expense_date BETWEEN :s AND :e"
            ),
            {"groups": group_ids, "cur": currency, "s": start, "e": end},
        )
    ).all()
    ids = [str(r.id) for r in rows]
    # The amount per expense: the whole total, or the caller's owed part from the ledger.
    owed = await reports.owed_by(conn, ids, caller) if caller_share_only else {}
    by_category: dict[Category, list[int]] = {}
    by_month: dict[date, int] = {}
    for r in rows:
        amount = owed.get(str(r.id), 0) if caller_share_only else int(r.total_minor)
        total_and_count = by_category.setdefault(Category(r.category), [0, 0])
        total_and_count[0] += amount
        total_and_count[1] += amount > 0
        by_month[r.month] = by_month.get(r.month, 0) + amount
    categories = sorted(
        ((c, total, n) for c, (total, n) in by_category.items() if total > 0),
        key=lambda t: (-t[1], t[0].value),
    )
    members = await reports.totals_by_user(conn, ids) if with_members else []
    return Summary(
        total_minor=sum(t for _, t, _ in categories),
        categories=categories,
        months=[(m, by_month.get(m, 0)) for m in month_starts(start, end)],
        members=members,
    )
