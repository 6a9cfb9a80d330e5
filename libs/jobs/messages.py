"""The job message on the jobs queue: which job, and the scheduled slot it covers.

EventBridge Scheduler fills ``scheduled_time`` from its context attribute
``<aws.scheduler.scheduled-time>``; the local scheduler writes the minute it
fired for. Handlers key their idempotency on (job, scheduled_time).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

SCHEDULED_TIME_PLACEHOLDER = "<aws.scheduler.scheduled-time>"


@dataclass(frozen=True)
class JobMessage:
    job: str
    scheduled_time: datetime

    def body(self) -> str:
        stamp = self.scheduled_time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return json.dumps({"job": self.job, "scheduled_time": stamp}, separators=(",", ":"))

    @classmethod
    def parse(cls, body: str) -> JobMessage:
        data = json.loads(body)
        if not isinstance(data, dict) or not isinstance(data.get("job"), str):
            raise ValueError("not a job message")
        when = datetime.fromisoformat(str(data["scheduled_time"]))
        if when.tzinfo is None:
            raise ValueError("scheduled_time needs a time zone")
        return cls(data["job"], when.astimezone(UTC))


def input_template(job: str) -> str:
    """The Scheduler target Input: the same JSON, with the scheduled time filled in by AWS."""
    return json.dumps({"job": job, "scheduled_time": SCHEDULED_TIME_PLACEHOLDER}, separators=(",", ":"))
