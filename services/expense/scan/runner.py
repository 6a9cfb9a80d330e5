"""Runs one requested scan: claim it, read the photo with the engine, store the draft.

Called by the scan worker for each ``receipt_scan.requested`` event. Delivery is at
least once, so a scan that is already finished is left alone. An engine error is
raised to the queue (the message comes back after a delay) until the scan has been
tried ``MAX_ATTEMPTS`` times; then it is marked FAILED with a message the app can show.
"""

from __future__ import annotations

import asyncio
import logging
import time

from hisaab.events.v1 import events_pb2 as ev

from libs.db.unit_of_work import UnitOfWork
from services.expense.ports import ExpenseRepositories
from services.expense.scan.engines import Engine

log = logging.getLogger("hisaab.expense.scan")

MAX_ATTEMPTS = 3
UNREADABLE = "the photo could not be read; try a sharper, flatter photo of the whole receipt"


class ScanRunner:
    def __init__(self, uow: UnitOfWork[ExpenseRepositories], s3: object, bucket: str, engine: Engine):
        self._uow = uow
        self._s3 = s3
        self._bucket = bucket
        self._engine = engine

    async def run(self, scan_id: str) -> str:
        """The scan's state after this attempt ("succeeded", "failed", or "" when not found or done)."""
        async with self._uow.transaction() as repos:
            row = await repos.claim_scan(scan_id)
        if row is None:
            return ""
        started = time.perf_counter()
        try:
            image = await asyncio.to_thread(self._read_object, row.source_key)
            draft = await asyncio.to_thread(
                self._engine.read,
                image,
                bucket=self._bucket,
                key=row.source_key,
                currency_hint=row.currency_hint,
            )
        except Exception:
            if row.attempts < MAX_ATTEMPTS:
                raise
            log.exception("scan failed for good", extra={"scan": scan_id})
            draft = None
        async with self._uow.transaction() as repos:
            await repos.finish_scan(
                scan_id, engine=self._engine.name, draft=draft, error="" if draft else UNREADABLE
            )
            state = "succeeded" if draft is not None else "failed"
            finished = ev.ReceiptScanFinished(group=row.group_id, scan=row.id, succeeded=draft is not None)
            await repos.outbox.record(finished, row.name, actor=row.creator)
        log.info(
            "scanned",
            extra={"scan": scan_id, "state": state, "seconds": round(time.perf_counter() - started, 3)},
        )
        return state

    def _read_object(self, key: str) -> bytes:
        body = self._s3.get_object(Bucket=self._bucket, Key=key)["Body"]  # type: ignore[attr-defined]
        return bytes(body.read())
