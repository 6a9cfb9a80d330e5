"""Puts the stack's shared clock at the instant a time-travel run is about (see tools/timetravel.py).

Under ``python -m tools.timetravel`` every process of the suite reads its wall-clock
offset from one file. Before each test marked ``clock`` the offset is set so that
the clock reads the run's instant again, and the test waits for positive signs that
the move took: this process's clock and PostgreSQL's ``now()`` both read it.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from tools import timetravel

# libfaketime re-reads the file once its cached copy is older than CACHE_SECONDS, so
# after twice that every process has the new offset.
SETTLE_SECONDS = 2 * timetravel.CACHE_SECONDS + 0.2
# How far from the instant a clock may read once moved: the time the checks take.
TOLERANCE_SECONDS = 5.0


def target() -> datetime | None:
    text = os.environ.get(timetravel.TARGET_VARIABLE, "")
    return timetravel.parse_instant(text) if text else None


def moves(node: pytest.Item) -> bool:
    """Whether this test starts at the run's instant."""
    return node.get_closest_marker("clock") is not None or bool(
        os.environ.get(timetravel.EVERY_TEST_VARIABLE)
    )


def _close(reading: datetime, instant: datetime) -> bool:
    return abs((reading - instant).total_seconds()) < TOLERANCE_SECONDS


def anchor(instant: datetime, database_url: str | None) -> None:
    offset_file = Path(os.environ[timetravel.OFFSET_FILE_VARIABLE])
    offset = timetravel.read_offset(offset_file)
    moved = instant.astimezone(UTC)
    timetravel.write_offset(offset_file, offset + (moved - datetime.now(UTC)).total_seconds())
    time.sleep(SETTLE_SECONDS)
    # The sleep is libfaketime's documented refresh bound; these readings are the proof.
    mine = datetime.now(UTC)
    assert _close(mine, moved), f"this process's clock reads {mine}, not {moved}"
    if database_url:
        with psycopg.connect(database_url) as conn:
            row = conn.execute("SELECT now()").fetchone()
        assert row is not None and _close(row[0], moved), f"PostgreSQL's clock reads {row}, not {moved}"
