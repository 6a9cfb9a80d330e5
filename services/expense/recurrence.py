"""Recurring expense rules: schedules and their next occurrence. Pure; no I/O."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Final

from services.expense.domain import Draft

MAX_INTERVAL: Final = 366


class Frequency(StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    YEARLY = "yearly"


@dataclass(frozen=True)
class Schedule:
    frequency: Frequency
    interval: int
    start_date: date
    end_date: date | None

    def occurrence(self, n: int) -> date:
        """The n-th occurrence (0 is start_date). Months clamp to their last day, so a rule
        starting on the 31st falls on the 30th in April and returns to the 31st in May."""
        step = n * self.interval
        if self.frequency is Frequency.DAILY:
            return self.start_date + timedelta(days=step)
        if self.frequency is Frequency.WEEKLY:
            return self.start_date + timedelta(weeks=step)
        months = step if self.frequency is Frequency.MONTHLY else 12 * step
        index = self.start_date.month - 1 + months
        year, month = self.start_date.year + index // 12, index % 12 + 1
        day = min(self.start_date.day, calendar.monthrange(year, month)[1])
        return date(year, month, day)

    def first_on_or_after(self, day: date) -> date | None:
        """The first occurrence on or after `day`; None when the rule has ended by then."""
        if day <= self.start_date:
            n = 0
        elif self.frequency is Frequency.DAILY:
            n = -(-(day - self.start_date).days // self.interval)
        elif self.frequency is Frequency.WEEKLY:
            n = -(-(day - self.start_date).days // (7 * self.interval))
        else:
            per = self.interval * (12 if self.frequency is Frequency.YEARLY else 1)
            months = (day.year - self.start_date.year) * 12 + day.month - self.start_date.month
            n = max(0, months // per)
            while self.occurrence(n) < day:  # at most two steps: clamping moves a date by days
                n += 1
        found = self.occurrence(n)
        if self.end_date is not None and found > self.end_date:
            return None
        return found


@dataclass(frozen=True)
class Rule:
    id: str
    group_id: str
    schedule: Schedule
    template: Draft
    paused: bool
    next_occurrence: date | None
    creator: str
    version: int
    created_at: datetime
    updated_at: datetime

    @property
    def name(self) -> str:
        return f"groups/{self.group_id}/recurringExpenses/{self.id}"
