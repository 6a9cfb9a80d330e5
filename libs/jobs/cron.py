"""EventBridge cron expressions, ``cron(minutes hours day-of-month month day-of-week year)``.

Enough of the syntax for our schedules and for the local scheduler to match
them minute by minute: ``*``, ``?``, numbers, ranges ``a-b``, steps ``*/n``
and ``a-b/n``, lists ``a,b``. Day-of-week is 1-7 with 1 = Sunday (as AWS).
Not supported (refused, never silently misread): ``L``, ``W``, ``#`` and names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

_FIELD = re.compile(r"^(\*|\?|\d+(-\d+)?)(/\d+)?$")
_BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (1, 7), (1970, 2199))


class CronError(ValueError):
    pass


def _values(text: str, low: int, high: int) -> frozenset[int] | None:
    """The allowed values, or None for "any"."""
    if text in ("*", "?"):
        return None
    out: set[int] = set()
    for part in text.split(","):
        if not _FIELD.match(part):
            raise CronError(f"unsupported cron field {text!r}")
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if base in ("*", "?"):
            start, end = low, high
        elif "-" in base:
            start, end = (int(x) for x in base.split("-"))
        else:
            start = int(base)
            end = high if step_text else start
        if not (low <= start <= end <= high) or step < 1:
            raise CronError(f"cron field {text!r} out of range {low}-{high}")
        out.update(range(start, end + 1, step))
    return frozenset(out)


@dataclass(frozen=True)
class Cron:
    expression: str
    minutes: frozenset[int] | None
    hours: frozenset[int] | None
    days: frozenset[int] | None
    months: frozenset[int] | None
    weekdays: frozenset[int] | None
    years: frozenset[int] | None

    @classmethod
    def parse(cls, expression: str) -> Cron:
        match = re.fullmatch(r"cron\((.+)\)", expression.strip())
        if not match:
            raise CronError(f"{expression!r} is not cron(...)")
        parts = match.group(1).split()
        if len(parts) != 6:
            raise CronError(f"{expression!r} needs six fields")
        if (parts[2] == "?") == (parts[4] == "?") and "*" not in (parts[2], parts[4]):
            raise CronError("one of day-of-month and day-of-week must be '?'")
        values = [_values(p, lo, hi) for p, (lo, hi) in zip(parts, _BOUNDS, strict=True)]
        return cls(expression, *values)

    def matches(self, at: datetime) -> bool:
        """Whether the schedule fires at this minute (``at`` in the schedule's time zone)."""
        weekday = at.isoweekday() % 7 + 1  # Monday=1 in Python → Sunday=1 in AWS
        checks = (
            (self.minutes, at.minute),
            (self.hours, at.hour),
            (self.days, at.day),
            (self.months, at.month),
            (self.weekdays, weekday),
            (self.years, at.year),
        )
        return all(allowed is None or value in allowed for allowed, value in checks)
