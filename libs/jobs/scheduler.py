"""The local stand-in for EventBridge Scheduler: at each minute, a job message per due schedule.

Only for ``make run`` and tests; in AWS the schedules from
``create_schedule_kwargs`` do this. Missed minutes (the process was down) are
not caught up, like a schedule created after the fact; the handlers cover a
missed slot on the next run.

Run: ``python -m libs.jobs.scheduler`` (needs HISAAB_JOBS_QUEUE_URL).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from libs import aws
from libs.jobs.messages import JobMessage
from libs.jobs.runtime import Heartbeat, run_worker, sleep_or_stop
from libs.jobs.schedules import SCHEDULES, Schedule, due

log = logging.getLogger("hisaab.scheduler")


class LocalScheduler:
    def __init__(self, queue_url: str, sqs: Any | None = None, schedules: tuple[Schedule, ...] = SCHEDULES):
        self._queue = queue_url
        self._sqs = sqs or aws.client("sqs")
        self._schedules = schedules
        self._last: datetime | None = None

    def fire(self, minute: datetime) -> list[JobMessage]:
        """Sends the messages of every schedule due at ``minute``; a minute is fired once."""
        minute = minute.astimezone(UTC).replace(second=0, microsecond=0)
        if self._last is not None and minute <= self._last:
            return []
        self._last = minute
        sent = [JobMessage(s.job, minute) for s in due(minute, self._schedules)]
        for message in sent:
            self._sqs.send_message(QueueUrl=self._queue, MessageBody=message.body())
            log.info("job fired", extra={"job": message.job, "scheduled_time": minute.isoformat()})
        return sent

    async def run(self, stop: asyncio.Event, heartbeat: Heartbeat) -> None:
        while not stop.is_set():
            heartbeat.beat()
            now = datetime.now(UTC)
            try:
                await asyncio.to_thread(self.fire, now)
            except Exception:
                log.exception("could not send job messages")
            next_minute = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
            await sleep_or_stop(stop, min(15.0, (next_minute - datetime.now(UTC)).total_seconds() + 0.05))


async def _main(stop: asyncio.Event, heartbeat: Heartbeat) -> None:
    resources = aws.Resources.from_env()
    resources.require("jobs_queue_url")
    await LocalScheduler(resources.jobs_queue_url).run(stop, heartbeat)


if __name__ == "__main__":
    run_worker("scheduler", _main)
