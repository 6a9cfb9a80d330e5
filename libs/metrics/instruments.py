"""Every instrument the kit records into, by its exported name (docs/observability.md).

Names follow the OpenTelemetry semantic conventions where one exists (``rpc.server.*``,
``db.client.connection.*``, ``messaging.*``) and are under ``hisaab.`` otherwise. Values
that change all the time but are only read at export (requests in flight, pool use,
outbox backlog) are observable instruments: the hot path updates a Python number and
pays nothing to the SDK.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Observation

from libs.metrics import names

METER = "hisaab"


# Milliseconds: fine below 10 ms, where the hot paths live, and up to the 10 s deadline.
RPC_BUCKETS_MS = (0.5, 1, 2, 3, 5, 7.5, 10, 15, 25, 50, 75, 100, 250, 500, 1000, 2500, 5000, 10000)
# Seconds: a queue message waits from a blink to the 15-minute retry back-off.
PROCESS_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


def meter() -> metrics.Meter:
    return metrics.get_meter(METER)


Observer = Callable[[], Iterable[tuple[float, dict[str, Any]]]]

_observers: dict[str, list[Observer]] = {}


def observe(name: str, kind: str, unit: str, description: str, read: Observer) -> None:
    """Report what ``read`` returns, as (value, attributes) pairs, under ``name`` at each
    export. ``kind`` is gauge, counter or updown. Several sources may report under one name
    (a writer and a reader pool): the instrument is created once and asks each of them."""
    readers = _observers.get(name)
    if readers is not None:
        readers.append(read)
        return
    readers = _observers[name] = [read]

    def callback(options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(value, attributes) for r in readers for value, attributes in r()]

    m = meter()
    create = {
        "gauge": m.create_observable_gauge,
        "counter": m.create_observable_counter,
        "updown": m.create_observable_up_down_counter,
    }[kind]
    create(name, callbacks=[callback], unit=unit, description=description)


class _Instruments:
    """Created on first use, after ``export.setup`` installed the provider (a proxy
    instrument from before would cost an indirection on every record)."""

    def __init__(self) -> None:
        m = meter()
        self.outbox_published = m.create_counter(
            names.OUTBOX_PUBLISHED,
            unit="{event}",
            description="Outbox events the broker accepted, by event type",
        )
        self.queue_messages = m.create_counter(
            names.QUEUE_MESSAGES,
            unit="{message}",
            description="Queue messages by queue and outcome (handled, retried, dead_lettered)",
        )
        self.queue_process_duration = m.create_histogram(
            names.QUEUE_PROCESS_DURATION,
            unit="s",
            description="Time to handle one queue message",
            explicit_bucket_boundaries_advisory=list(PROCESS_BUCKETS_S),
        )
        self.expenses_created = m.create_counter(
            names.EXPENSES_CREATED, unit="{expense}", description="Expenses created"
        )
        self.settlements_recorded = m.create_counter(
            names.SETTLEMENTS_RECORDED, unit="{settlement}", description="Settle-up payments recorded"
        )
        self.otps_sent = m.create_counter(
            names.OTPS_SENT, unit="{message}", description="Sign-in codes sent, by channel (sms, email)"
        )


_instruments: _Instruments | None = None


def get() -> _Instruments:
    global _instruments
    if _instruments is None:
        _instruments = _Instruments()
    return _instruments


def reset_synchronous() -> None:
    """Forget synchronous instruments made before the provider was installed (proxies)."""
    global _instruments
    _instruments = None


def reset() -> None:
    """Forget the instruments and observers (tests that install a fresh provider)."""
    global _instruments
    _instruments = None
    _observers.clear()
