"""The outbox seen from the relay: how many events wait, and how long the oldest has waited.

The relay probes the table every few seconds (``probe``); the gauges report the last
probe, the age advanced by the time since, so a stuck relay's age keeps growing at
every export even between probes. Every relay reports the same table: alarms take the
maximum.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from libs.metrics import business, instruments, names

log = logging.getLogger("hisaab.metrics")

PROBE_EVERY_SECONDS = 5.0
# Counting stops here: past it the number matters less than the age, and a count of a
# huge backlog would itself load the database.
COUNT_LIMIT = 100_000

_PROBE = text(
    "SELECT (SELECT count(*) FROM (SELECT 1 FROM kit.outbox WHERE published_at IS NULL LIMIT :limit) AS w), "
    "(SELECT EXTRACT(EPOCH FROM now() - created_at) FROM kit.outbox WHERE published_at IS NULL "
    "ORDER BY seq LIMIT 1)"
)


class OutboxGauges:
    def __init__(self) -> None:
        self.backlog = 0
        self._age = 0.0
        self._probed_at: float | None = None
        self._types: dict[str, dict[str, Any]] = {}
        instruments.observe(
            names.OUTBOX_BACKLOG, "gauge", "{event}", "Outbox events not yet published", self._backlog
        )
        instruments.observe(
            names.OUTBOX_OLDEST_AGE,
            "gauge",
            "s",
            "Age of the oldest unpublished outbox event (0 when none waits)",
            self._oldest_age,
        )

    def _backlog(self) -> list[tuple[float, dict[str, Any]]]:
        return [] if self._probed_at is None else [(self.backlog, {})]

    def oldest_age(self) -> float:
        if self._probed_at is None or not self.backlog:
            return 0.0
        return self._age + (time.monotonic() - self._probed_at)

    def _oldest_age(self) -> list[tuple[float, dict[str, Any]]]:
        return [] if self._probed_at is None else [(self.oldest_age(), {})]

    def due(self) -> bool:
        return self._probed_at is None or time.monotonic() - self._probed_at >= PROBE_EVERY_SECONDS

    async def probe(self, engine: AsyncEngine) -> None:
        """Never raises: a failed probe is tried again later, the relay carries on."""
        try:
            async with engine.connect() as conn:
                row = (await conn.execute(_PROBE, {"limit": COUNT_LIMIT})).one()
        except Exception:
            log.warning("outbox probe failed", exc_info=True)
            return
        self.backlog = int(row[0])
        self._age = float(row[1] or 0.0)
        self._probed_at = time.monotonic()

    def published(self, types: Iterable[str]) -> None:
        counter = instruments.get().outbox_published
        kinds = list(types)
        counts: dict[str, int] = {}
        for kind in kinds:
            counts[kind] = counts.get(kind, 0) + 1
        for kind, n in counts.items():
            attributes = self._types.get(kind)
            if attributes is None:
                attributes = self._types[kind] = {"event.type": kind}
            counter.add(n, attributes)
        business.events_published(kinds)
