"""The sign-in limits' configuration: windows, the business day, overrides."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from libs import clock, limits
from libs.settings import SettingsError


def test_a_window_starts_on_a_multiple_of_its_length() -> None:
    window = limits.Window(10, 300)
    instant = datetime(2026, 11, 29, 13, 7, 42, tzinfo=UTC)
    assert window.start(instant) == datetime(2026, 11, 29, 13, 5, tzinfo=UTC)
    assert window.end(instant) - window.start(instant) == timedelta(seconds=300)
    assert limits.seconds_until(window.end(instant), instant) == 138


def test_the_country_cap_counts_in_business_days() -> None:
    instant = datetime(2026, 11, 29, 18, 29, tzinfo=UTC)
    start, end = limits.business_day(instant)
    assert start <= instant < end and end - start == timedelta(days=1)
    assert clock.business_date(start) == clock.business_date(instant)
    assert clock.business_date(end) == clock.business_date(instant) + timedelta(days=1)


def test_per_address_windows_are_ones_waf_can_count_in() -> None:
    assert limits.ADDRESS_WINDOW_SECONDS in (60, 120, 300, 600)
    for window in (limits.STARTS_PER_ADDRESS, limits.VERIFIES_PER_ADDRESS, limits.AUTH_CALLS_PER_ADDRESS):
        assert window.seconds == limits.ADDRESS_WINDOW_SECONDS and window.limit >= 10  # WAF's minimum
    assert (
        limits.STARTS_PER_ADDRESS.limit
        < limits.VERIFIES_PER_ADDRESS.limit
        < limits.AUTH_CALLS_PER_ADDRESS.limit
    )


def test_overrides_come_from_the_environment_given() -> None:
    env = {
        "HISAAB_SMS_PER_COUNTRY_PER_DAY": "gb=5, *=7",
        "HISAAB_RESEND_AFTER_SECONDS": "4",
        "HISAAB_UNLIMITED_ADDRESSES": "127.0.0.1, ::1",
        "HISAAB_FORWARDED_HOPS": "2",
    }
    loaded = limits.load(lambda name: env.get(name, ""))
    assert loaded.sms_per_day("GB") == 5 and loaded.sms_per_day("FR") == 7
    assert loaded.sms_per_day("IN") == limits.DEFAULT_SMS_PER_COUNTRY["IN"]
    assert loaded.resend_after_seconds == 4 and loaded.forwarded_hops == 2
    assert loaded.unlimited_addresses == {"127.0.0.1", "::1"}
    assert limits.load(lambda name: "") == limits.SignInLimits()


def test_a_malformed_country_cap_stops_the_start() -> None:
    with pytest.raises(SettingsError, match="REGION=COUNT"):
        limits.parse_country_caps("IN:5")
