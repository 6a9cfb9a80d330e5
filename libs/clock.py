"""The one clock of the stack, and the business time zone its day rules use.

Instants are UTC everywhere. Rules about *days* — a free-tier quota's "per day",
the date a recurring expense falls on, "today" as the default date of an
expense or a settlement, a reminder's hour, the day an analytics export covers —
use the business time zone: India by default, so a day turns at 18:30 UTC. The
zone is configuration (``HISAAB_BUSINESS_TIME_ZONE``, an IANA name), read once
here; nothing else in the code names a zone for these rules.

Code that needs the time takes a ``Clock`` (a function returning an aware UTC
datetime), so tests and jobs can pass their own; ``now`` is the real one.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from libs import settings

ZONE_VARIABLE = settings.BUSINESS_TIME_ZONE_VARIABLE

Clock = Callable[[], datetime]


def zone_named(name: str) -> ZoneInfo:
    """The IANA zone ``name``; ValueError (not a crash deep in zoneinfo) when there is none."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None


def _configured_zone_name() -> str:
    name = settings.business_time_zone()
    zone_named(name)  # fail at start-up, not on the first request that needs a date
    return name


BUSINESS_ZONE_NAME = _configured_zone_name()
BUSINESS_ZONE = zone_named(BUSINESS_ZONE_NAME)


def now() -> datetime:
    return datetime.now(UTC)


def business_date(instant: datetime) -> date:
    """The calendar date of ``instant`` in the business time zone."""
    if instant.tzinfo is None:
        raise ValueError("business_date needs an aware datetime")
    return instant.astimezone(BUSINESS_ZONE).date()


def business_today(clock: Clock = now) -> date:
    return business_date(clock())
