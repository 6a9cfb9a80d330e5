"""Spending summaries for charts: totals by category, by month and by member, in one currency. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from services.expense.domain import Category


@dataclass(frozen=True)
class SpendingRow:
    """A live expense in the summary's currency and range."""

    id: str
    category: Category
    month: date  # first day of the expense's month
    total_minor: int


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


def summarize(
    rows: list[SpendingRow],
    start: date,
    end: date,
    *,
    owed: dict[str, int] | None,
    members: list[tuple[str, int, int]],
) -> Summary:
    """``owed``: the caller's owed part per expense id when only their share counts (None:
    each expense's whole total); ``members``: paid and owed per user over the rows."""
    by_category: dict[Category, list[int]] = {}
    by_month: dict[date, int] = {}
    for r in rows:
        amount = owed.get(r.id, 0) if owed is not None else r.total_minor
        total_and_count = by_category.setdefault(r.category, [0, 0])
        total_and_count[0] += amount
        total_and_count[1] += amount > 0
        by_month[r.month] = by_month.get(r.month, 0) + amount
    categories = sorted(
        ((c, total, n) for c, (total, n) in by_category.items() if total > 0),
        key=lambda t: (-t[1], t[0].value),
    )
    return Summary(
        total_minor=sum(t for _, t, _ in categories),
        categories=categories,
        months=[(m, by_month.get(m, 0)) for m in month_starts(start, end)],
        members=members,
    )
