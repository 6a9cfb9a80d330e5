"""The nightly analytics export writes exact, anonymised aggregates of one Indian day to S3."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import boto3
import pytest
from sqlalchemy import text

from libs.db.database import Database
from libs.jobs import analytics
from tools.devstack.stack import Stack

pytestmark = pytest.mark.integration

DAY = date(2001, 2, 3)  # a day no other test writes to


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    yield database
    await database.close()


async def _seed(db: Database) -> list[str]:
    start, _ = analytics.day_bounds(DAY)
    inside = start.replace(hour=start.hour + 1)
    groups = [str(uuid.uuid4()), str(uuid.uuid4())]
    async with db.transaction() as conn:
        for group, kind, total in (
            (groups[0], "expense", 1000),
            (groups[0], "expense", 2500),
            (groups[1], "settlement", 700),
        ):
            await conn.execute(
                text(
                    "INSERT INTO ledger.entries (id, group_id, kind, currency, total_minor, created_at) "
                    "VALUES (:id, :g, :k, 'INR', :t, :at)"
                ),
                {"id": str(uuid.uuid4()), "g": group, "k": kind, "t": total, "at": inside},
            )
        for event in ("expense.created", "expense.created", "settlement.recorded"):
            await conn.execute(
                text(
                    "INSERT INTO kit.outbox (id, event_type, aggregate, actor, payload, created_at) "
                    "VALUES (:id, :t, 'x', 'someone', '{}', :at)"
                ),
                {"id": str(uuid.uuid4()), "t": event, "at": inside},
            )
    return groups


async def test_daily_aggregates_are_exact_and_anonymous(db: Database, stack: Stack) -> None:
    await _seed(db)
    assert stack.aws is not None
    env = stack.aws.env
    s3 = boto3.client(
        "s3",
        endpoint_url=stack.aws.endpoint_url,
        region_name=env["AWS_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )
    bucket = f"analytics-test-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": env["AWS_REGION"]})  # type: ignore[typeddict-item]

    job = analytics.analytics_job(db, s3, bucket)
    run_at = datetime(2001, 2, 4, 2, 15, tzinfo=analytics.TIME_ZONE).astimezone(UTC)
    assert await job(run_at) == 3  # events counted on the previous Indian day
    body = s3.get_object(Bucket=bucket, Key=analytics.object_key(DAY))["Body"].read()
    data = json.loads(body)
    assert data["events"] == {"expense.created": 2, "settlement.recorded": 1}
    assert data["ledger"] == [
        {"kind": "expense", "currency": "INR", "entries": 2, "total_minor": 3500},
        {"kind": "settlement", "currency": "INR", "entries": 1, "total_minor": 700},
    ]
    assert data["active_groups"] == 2
    assert "someone" not in body.decode()  # actors never leave the database
    await job(run_at)  # running the day again rewrites the same object
    assert s3.get_object(Bucket=bucket, Key=analytics.object_key(DAY))["Body"].read() == body
