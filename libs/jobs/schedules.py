"""Every scheduled job, in one list: the source of the EventBridge schedules and of the local scheduler.

Each schedule drops a ``JobMessage`` on the jobs queue; notification-service's
worker takes it and runs the job itself or calls the owning service's
internal RPC. Cron expressions are EventBridge's six-field form, evaluated in
the schedule's time zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from libs import clock
from libs.jobs.cron import Cron
from libs.jobs.messages import input_template

SCHEDULE_GROUP = "hisaab"
# Day-bound jobs follow the business day; the hourly and quarter-hourly ones need no zone.
BUSINESS = clock.BUSINESS_ZONE_NAME


@dataclass(frozen=True)
class Schedule:
    job: str
    cron: str
    time_zone: str
    description: str

    def fires_at(self, minute: datetime) -> bool:
        return Cron.parse(self.cron).matches(minute.astimezone(clock.zone_named(self.time_zone)))


SCHEDULES: tuple[Schedule, ...] = (
    # Hourly: each user is reminded at their own local reminder hour.
    Schedule("balance_reminders", "cron(0 * * * ? *)", "UTC", "Remind members who owe money"),
    Schedule(
        "purge_old_notifications",
        "cron(30 3 * * ? *)",
        BUSINESS,
        "Delete read notifications after 90 days",
    ),
    # pricing-service: PricingService.ExpireEntitlements.
    Schedule("expire_entitlements", "cron(*/15 * * * ? *)", "UTC", "End entitlements of expired packs"),
    # Anonymised daily aggregates of the previous Indian day, to the analytics bucket.
    Schedule("analytics_export", "cron(15 2 * * ? *)", BUSINESS, "Export anonymised daily aggregates"),
    # expense-service: ExpenseService.GenerateRecurringOccurrences for the local date.
    Schedule("generate_recurring_expenses", "cron(5 0 * * ? *)", BUSINESS, "Create due recurring expenses"),
    # settlement-service: SettlementService.RefreshExchangeRates. The ECB publishes around 16:00
    # Frankfurt time (14:00 or 15:00 UTC); on days it does not, the last day is kept.
    Schedule(
        "refresh_exchange_rates", "cron(30 15 * * ? *)", "UTC", "Fetch the day's reference exchange rates"
    ),
)

JOBS = frozenset(s.job for s in SCHEDULES)


def create_schedule_kwargs(
    schedule: Schedule,
    *,
    queue_arn: str,
    role_arn: str,
    dead_letter_arn: str = "",
    group: str = SCHEDULE_GROUP,
) -> dict[str, Any]:
    """Arguments for boto3 ``scheduler.create_schedule`` (the infrastructure applies them)."""
    target: dict[str, Any] = {
        "Arn": queue_arn,
        "RoleArn": role_arn,
        "Input": input_template(schedule.job),
        # A missed slot is worth retrying for an hour; after that the next slot covers it.
        "RetryPolicy": {"MaximumRetryAttempts": 5, "MaximumEventAgeInSeconds": 3600},
    }
    if dead_letter_arn:
        target["DeadLetterConfig"] = {"Arn": dead_letter_arn}
    return {
        "Name": f"hisaab-{schedule.job.replace('_', '-')}",
        "GroupName": group,
        "Description": schedule.description,
        "ScheduleExpression": schedule.cron,
        "ScheduleExpressionTimezone": schedule.time_zone,
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "State": "ENABLED",
        "Target": target,
    }


def due(minute: datetime, schedules: tuple[Schedule, ...] = SCHEDULES) -> list[Schedule]:
    return [s for s in schedules if s.fires_at(minute)]
