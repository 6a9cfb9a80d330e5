"""Quota periods: when the current window started and when it resets.

Periods start at local midnight in the quota's time zone (the business zone by default),
so "20 expenses a day" resets when the user's day does, not at UTC midnight.
Pricing-service counts uses per window with the same function the gate uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from libs import clock


class Period(StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"


@dataclass(frozen=True)
class Window:
    start: datetime  # inclusive, UTC
    reset: datetime  # exclusive: when the count goes back to zero, UTC


def zone(name: str) -> ZoneInfo:
    return clock.zone_named(name) if name else clock.BUSINESS_ZONE


def window(period: Period, time_zone: str, now: datetime) -> Window:
    tz = zone(time_zone)
    local = now.astimezone(tz)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if period is Period.DAILY:
        start = midnight
        end = _next_midnight(start, days=1)
    elif period is Period.WEEKLY:
        start = _next_midnight(midnight, days=-midnight.weekday())  # Monday
        end = _next_midnight(start, days=7)
    else:
        start = midnight.replace(day=1)
        year, month = (start.year + 1, 1) if start.month == 12 else (start.year, start.month + 1)
        end = start.replace(year=year, month=month)
    return Window(start.astimezone(UTC), end.astimezone(UTC))


def _next_midnight(local_midnight: datetime, *, days: int) -> datetime:
    # Calendar arithmetic on the wall clock, then re-attached to the zone, so a
    # day with a DST change is still one calendar day long.
    moved = (local_midnight.replace(tzinfo=None) + timedelta(days=days)).replace(tzinfo=local_midnight.tzinfo)
    return moved
