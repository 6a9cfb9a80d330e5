"""Queue consumers: messages by outcome, handling time, and lag.

Outcomes: ``handled`` (deleted), ``retried`` (made visible again later) and
``dead_lettered`` (failed on its last receive: SQS moves it to the dead-letter queue).
Lag is the age of the oldest message of the last receive (now minus SQS's
SentTimestamp), 0 after a receive that found the queue empty.
"""

from __future__ import annotations

import time
from typing import Any

from libs.metrics import instruments, names

OUTCOMES = ("handled", "retried", "dead_lettered")


class QueueMetrics:
    _lags: dict[str, float] = {}

    def __init__(self, queue: str) -> None:
        self._queue = queue
        self._attributes = {o: {"messaging.destination.name": queue, "outcome": o} for o in OUTCOMES}
        self._queue_only = {"messaging.destination.name": queue}
        if not QueueMetrics._lags:
            instruments.observe(
                names.QUEUE_LAG,
                "gauge",
                "s",
                "Age of the oldest message of the last receive; 0 when the queue was empty",
                QueueMetrics._read_lags,
            )
        QueueMetrics._lags[queue] = 0.0

    @staticmethod
    def _read_lags() -> list[tuple[float, dict[str, Any]]]:
        return [(lag, {"messaging.destination.name": q}) for q, lag in list(QueueMetrics._lags.items())]

    def received(self, sent_timestamps_ms: list[int]) -> None:
        now_ms = time.time() * 1000
        oldest = min(sent_timestamps_ms, default=None)
        QueueMetrics._lags[self._queue] = 0.0 if oldest is None else max(0.0, (now_ms - oldest) / 1000)

    def done(self, outcome: str, started: float) -> None:
        made = instruments.get()
        made.queue_messages.add(1, self._attributes[outcome])
        made.queue_process_duration.record(time.perf_counter() - started, self._queue_only)
