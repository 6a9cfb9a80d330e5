"""Schedules: cron matching, EventBridge Scheduler definitions, job messages, the local scheduler."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from libs import aws
from libs.jobs.cron import Cron, CronError
from libs.jobs.messages import JobMessage
from libs.jobs.scheduler import LocalScheduler
from libs.jobs.schedules import JOBS, SCHEDULES, Schedule, create_schedule_kwargs, due
from tools.devstack.stack import Stack


def test_cron_fields() -> None:
    every_15 = Cron.parse("cron(*/15 * * * ? *)")
    assert every_15.matches(datetime(2031, 1, 1, 10, 45)) and not every_15.matches(
        datetime(2031, 1, 1, 10, 46)
    )
    monday_9 = Cron.parse("cron(0 9 ? * 2 *)")  # AWS: 1 = Sunday, 2 = Monday
    assert monday_9.matches(datetime(2031, 1, 6, 9, 0))  # a Monday
    assert not monday_9.matches(datetime(2031, 1, 7, 9, 0))
    assert Cron.parse("cron(0 0 1,15 1-6 ? 2031)").matches(datetime(2031, 6, 15, 0, 0))
    for bad in (
        "0 * * * ? *",
        "cron(0 * * * *)",
        "cron(61 * * * ? *)",
        "cron(0 0 L * ? *)",
        "cron(0 0 1 * 2 *)",
    ):
        with pytest.raises(CronError):
            Cron.parse(bad)


def test_every_schedule_is_valid_and_in_its_time_zone() -> None:
    for schedule in SCHEDULES:
        Cron.parse(schedule.cron)
    # 00:05 in Kolkata is 18:35 UTC the day before.
    assert [s.job for s in due(datetime(2031, 1, 1, 18, 35, tzinfo=UTC))] == ["generate_recurring_expenses"]
    assert {s.job for s in due(datetime(2031, 1, 1, 18, 0, tzinfo=UTC))} == {
        "balance_reminders",
        "expire_entitlements",
    }
    # 02:15 in Kolkata is 20:45 UTC the day before.
    assert {s.job for s in due(datetime(2031, 1, 1, 20, 45, tzinfo=UTC))} == {
        "analytics_export",
        "expire_entitlements",
    }
    # The ECB publishes by 15:00 UTC.
    assert {s.job for s in due(datetime(2031, 1, 1, 15, 30, tzinfo=UTC))} == {
        "refresh_exchange_rates",
        "expire_entitlements",
    }
    assert {
        "balance_reminders",
        "refresh_exchange_rates",
        "purge_old_notifications",
        "expire_entitlements",
        "generate_recurring_expenses",
        "analytics_export",
    } == JOBS


def test_job_message_round_trip_and_scheduler_placeholder() -> None:
    message = JobMessage("balance_reminders", datetime(2031, 1, 1, 18, 0, tzinfo=UTC))
    assert JobMessage.parse(message.body()) == message
    with pytest.raises(ValueError, match="time zone"):
        JobMessage.parse('{"job": "x", "scheduled_time": "2031-01-01T00:00:00"}')
    # What EventBridge Scheduler sends after filling its context attribute.
    kwargs = create_schedule_kwargs(SCHEDULES[0], queue_arn="arn:q", role_arn="arn:r")
    filled = kwargs["Target"]["Input"].replace("<aws.scheduler.scheduled-time>", "2031-01-01T18:00:00Z")
    assert JobMessage.parse(filled) == message


def test_eventbridge_definitions_are_accepted_by_the_scheduler_api(stack: Stack) -> None:
    assert stack.aws is not None
    where = {
        "endpoint": stack.aws.endpoint_url,
        "region_name": stack.aws.env["AWS_REGION"],
        "credentials": stack.aws.env,
    }
    scheduler = aws.make_client("scheduler", **where)  # type: ignore[arg-type]
    sqs = aws.make_client("sqs", **where)  # type: ignore[arg-type]
    queue_arn = sqs.get_queue_attributes(
        QueueUrl=stack.resources.jobs_queue_url, AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    group = f"hisaab-{uuid.uuid4().hex[:6]}"
    scheduler.create_schedule_group(Name=group)
    for schedule in SCHEDULES:
        kwargs = create_schedule_kwargs(
            schedule,
            queue_arn=queue_arn,
            role_arn="arn:aws:iam::123456789012:role/hisaab-scheduler",
            group=group,
        )
        assert kwargs["ScheduleExpression"] == schedule.cron
        assert kwargs["FlexibleTimeWindow"] == {"Mode": "OFF"}
        scheduler.create_schedule(**kwargs)
        got = scheduler.get_schedule(Name=kwargs["Name"], GroupName=group)
        assert got["ScheduleExpressionTimezone"] == schedule.time_zone
        assert json.loads(got["Target"]["Input"])["job"] == schedule.job


def test_local_scheduler_drops_one_message_per_due_schedule_and_minute(stack: Stack) -> None:
    assert stack.aws is not None
    where = {
        "endpoint": stack.aws.endpoint_url,
        "region_name": stack.aws.env["AWS_REGION"],
        "credentials": stack.aws.env,
    }
    sqs = aws.make_client("sqs", **where)  # type: ignore[arg-type]
    queue = sqs.create_queue(QueueName=f"jobs-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    hourly = Schedule("balance_reminders", "cron(0 * * * ? *)", "UTC", "test")
    local = LocalScheduler(queue, sqs, (hourly,))
    at = datetime(2031, 1, 1, 18, 0, 12, tzinfo=UTC)
    assert [m.job for m in local.fire(at)] == ["balance_reminders"]
    assert local.fire(at.replace(second=40)) == []  # the same minute fires once
    assert local.fire(datetime(2031, 1, 1, 18, 1, tzinfo=UTC)) == []  # not due
    got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1)["Messages"]
    assert [JobMessage.parse(m["Body"]) for m in got] == [
        JobMessage("balance_reminders", at.replace(second=0))
    ]
