"""The sign-in limits of ``libs.limits``, counted in auth's own tables.

Counting happens in PostgreSQL (ports.SignInCounters), in the caller's unit of work,
one conditional upsert per limit: exact across every replica and under any concurrency, and independent
of Valkey (phase 1 runs without it). A refusal raises ``RetryLater`` (gRPC
RESOURCE_EXHAUSTED, HTTP 429 through the gateway) carrying when to try again.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from libs import limits
from libs.errors import RetryLater
from libs.limits import SignInLimits, Window
from services.auth import domain
from services.auth.domain import Contact
from services.auth.ports import SignInCounters

# Counter rows are kept a day past their window, then dropped.
_KEEP = timedelta(days=1)


class AddressLimited(RetryLater):
    reason = "ADDRESS_RATE_LIMITED"


class DestinationLimited(RetryLater):
    reason = "OTP_THROTTLED"


class CountryCapReached(RetryLater):
    reason = "SMS_COUNTRY_CAP"


class SignInThrottle:
    def __init__(self, settings: SignInLimits):
        self.settings = settings

    async def per_address(self, counters: SignInCounters, action: str, address: str, now: datetime) -> None:
        """One start or verify from ``address``; refused past the address's window."""
        if address in self.settings.unlimited_addresses:
            return
        window = self.settings.starts_per_address if action == "start" else self.settings.verifies_per_address
        if not await _take(counters, f"{action}:address", address, window, now):
            raise AddressLimited(
                f"too many sign-in requests from this network; try again in "
                f"{limits.seconds_until(window.end(now), now)} seconds",
                limits.seconds_until(window.end(now), now),
            )
        if action == "start":
            await counters.forget_windows_before(now - _KEEP)

    def resend_wait(self, last_sent: datetime | None, sent_last_hour: int, now: datetime) -> int:
        return domain.resend_wait(
            last_sent,
            sent_last_hour,
            now,
            resend_after=timedelta(seconds=self.settings.resend_after_seconds),
            per_hour=self.settings.starts_per_destination.limit,
        )

    async def sms_to_country(self, counters: SignInCounters, contact: Contact, now: datetime) -> None:
        """One text to the destination's country today; refused past its daily cap."""
        region = domain.sms_region(contact)
        start, end = limits.business_day(now)
        cap = self.settings.sms_per_day(region)
        if cap <= 0 or not await counters.take_from_window("sms:country", region, start, end, cap):
            wait = limits.seconds_until(end, now)
            raise CountryCapReached(
                f"sign-in codes to this country are paused for today; try again in {wait} seconds", wait
            )

    async def wrong_code_slot(self, counters: SignInCounters, contact: Contact, now: datetime) -> datetime:
        """Reserve one wrong-code slot for ``contact`` before a code is checked.

        Returned to the window (``give_back``) when the code was right; the slot's row
        stays locked until the transaction ends, so concurrent checks cannot overshoot.
        """
        window = self.settings.wrong_codes_per_destination
        if not await _take(counters, "wrong-code:destination", contact.value, window, now):
            wait = limits.seconds_until(window.end(now), now)
            raise DestinationLimited(
                f"too many wrong codes for this destination; try again in {wait} seconds", wait
            )
        return window.start(now)

    async def give_back(self, counters: SignInCounters, contact: Contact, window_start: datetime) -> None:
        await counters.give_back("wrong-code:destination", contact.value, window_start)


async def _take(counters: SignInCounters, scope: str, key: str, window: Window, now: datetime) -> bool:
    if window.limit <= 0:
        return False
    return await counters.take_from_window(scope, key, window.start(now), window.end(now), window.limit)
