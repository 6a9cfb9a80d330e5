"""The receipt scan worker: consumes ``receipt_scan.requested`` events and runs the engine.

Its own process (and Deployment) so OCR never competes with expense-service's RPCs
for CPU; it scales on its queue. Run: ``python -m services.expense.scan.worker``.
"""

from __future__ import annotations

import asyncio
import logging

from libs import aws
from libs import settings as settings_mod
from libs.db.database import Database
from libs.db.unit_of_work import SqlUnitOfWork
from libs.events import EventMessage
from libs.jobs.queues import Handler, QueueConsumer
from libs.jobs.runtime import Heartbeat, run_worker
from services.expense.repository import SqlExpenseRepositories
from services.expense.scan import engines
from services.expense.scan.runner import ScanRunner

log = logging.getLogger("hisaab.expense.scan")


def handler(runner: ScanRunner) -> Handler:
    async def handle(body: str) -> None:
        message = EventMessage.parse(body)
        if message.type != aws.SCAN_REQUESTED:
            return  # the subscription filters; anything else is not ours
        await runner.run(str(message.payload["scan"]))

    return handle


async def _main(stop: asyncio.Event, heartbeat: Heartbeat) -> None:
    resources = aws.Resources.from_env()
    resources.require("scans_queue_url", "receipts_bucket")
    settings = settings_mod.load("expense")
    db = Database(settings.database_url, settings.database_reader_url, application_name="hisaab-scan-worker")
    engine = engines.from_env()
    runner = ScanRunner(
        SqlUnitOfWork(db, SqlExpenseRepositories), aws.client("s3"), resources.receipts_bucket, engine
    )
    consumer = QueueConsumer.from_env("scans", resources.scans_queue_url, handler(runner))
    # Load the models before the first message so the first scan is as quick as the rest.
    if isinstance(engine, engines.LocalEngine):
        await asyncio.to_thread(engine.warm_up)
    log.info("consuming", extra={"queue": resources.scans_queue_url, "engine": engine.name})
    try:
        await consumer.run(stop, heartbeat)
    finally:
        await db.close()


if __name__ == "__main__":
    run_worker("scan-worker", _main)
