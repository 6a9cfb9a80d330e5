"""The business day turns at midnight in the business time zone (India by default), not at UTC's."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime

import pytest

from libs import clock


@pytest.mark.parametrize(
    ("instant", "day"),
    [
        (datetime(2027, 4, 30, 18, 29, 59, tzinfo=UTC), date(2027, 4, 30)),  # 23:59:59 IST
        (datetime(2027, 4, 30, 18, 30, 0, tzinfo=UTC), date(2027, 5, 1)),  # midnight IST
        (datetime(2028, 2, 28, 18, 30, 0, tzinfo=UTC), date(2028, 2, 29)),  # a leap day begins
        (datetime(2026, 12, 31, 18, 30, 0, tzinfo=UTC), date(2027, 1, 1)),  # a year begins
        (datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC), date(2027, 1, 1)),  # UTC is still in 2026
    ],
)
def test_business_date_follows_the_business_zone(instant: datetime, day: date) -> None:
    assert clock.BUSINESS_ZONE_NAME == "Asia/Kolkata"
    assert clock.business_date(instant) == day
    assert clock.business_today(lambda: instant) == day


def test_a_naive_instant_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        clock.business_date(datetime(2027, 1, 1, 12, 0))


def test_the_zone_is_configuration_and_a_bad_one_stops_the_process() -> None:
    probe = "from libs import clock; print(clock.BUSINESS_ZONE_NAME, clock.business_today().year > 2000)"
    env = {**os.environ, clock.ZONE_VARIABLE: "America/New_York"}
    good = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=False)
    assert good.returncode == 0 and good.stdout.split() == ["America/New_York", "True"], good.stderr
    env[clock.ZONE_VARIABLE] = "Mars/Olympus_Mons"
    bad = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=False)
    assert bad.returncode != 0 and "unknown time zone 'Mars/Olympus_Mons'" in bad.stderr
