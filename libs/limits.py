"""Sign-in abuse limits: the one configuration the whole request path reads.

The auth service counts these in PostgreSQL (exact, shared by every replica, no
Valkey needed); the gateway's Envoy enforces the per-address ones again with its
local rate limit (``tools/gateway/envoy_config.py``); in AWS the WAF rate rules
and the API Gateway throttles (``infra/limits.py``, ``infra/stacks/edge.py``) take
the same numbers. Per-address windows are five minutes because that is a window WAF
can count in, so all three layers count alike.

Why each exists (docs/security.md has the threat model):

* per client address, on start: one address requesting codes for many numbers is
  a script running up the SMS bill (SMS pumping), or enumerating accounts;
* per client address, on verify: guessing codes across many challenges;
* per destination: one phone or inbox flooded with codes, and codes guessed
  across that destination's successive challenges (each challenge allows 5 tries);
* per destination country, per business day: a ceiling on the SMS bill when the
  address limits are defeated by many addresses, tight for countries the app does
  not serve, where toll fraud sends its traffic.

A few values can be set per environment (``HISAAB_...`` below); the rest are
constants so that the gateway, the service and the edge cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from libs import clock, settings


@dataclass(frozen=True)
class Window:
    """At most ``limit`` events per fixed window of ``seconds`` (windows start at the epoch)."""

    limit: int
    seconds: int

    def start(self, instant: datetime) -> datetime:
        epoch = int(instant.timestamp())
        return datetime.fromtimestamp(epoch - epoch % self.seconds, tz=instant.tzinfo)

    def end(self, instant: datetime) -> datetime:
        return self.start(instant) + timedelta(seconds=self.seconds)


# WAF rate rules count over one of 60, 120, 300 or 600 seconds.
ADDRESS_WINDOW_SECONDS = 300
# Every /v1/auth:* call (start, verify, refresh, sign-out) from one address.
AUTH_CALLS_PER_ADDRESS = Window(100, ADDRESS_WINDOW_SECONDS)
# Codes requested from one address: a family or a small office behind one NAT fits.
STARTS_PER_ADDRESS = Window(10, ADDRESS_WINDOW_SECONDS)
# Codes submitted from one address: each person gets a few typos.
VERIFIES_PER_ADDRESS = Window(30, ADDRESS_WINDOW_SECONDS)
# Codes sent to one destination per hour (and at most one per resend interval).
STARTS_PER_DESTINATION = Window(10, 3600)
# Wrong codes for one destination per hour, over all its challenges.
WRONG_CODES_PER_DESTINATION = Window(8, 3600)
DEFAULT_RESEND_AFTER_SECONDS = 30
# Codes texted per destination country per business day (ISO 3166 region of the number).
DEFAULT_SMS_PER_COUNTRY = {"IN": 50_000}
DEFAULT_SMS_PER_OTHER_COUNTRY = 200
OTHER_COUNTRIES = "*"
DEFAULT_FORWARDED_HOPS = 1
# Distinct client addresses one Envoy process tracks at a time (least recently seen dropped).
ENVOY_TRACKED_ADDRESSES = 100_000


@dataclass(frozen=True)
class SignInLimits:
    starts_per_address: Window = STARTS_PER_ADDRESS
    verifies_per_address: Window = VERIFIES_PER_ADDRESS
    auth_calls_per_address: Window = AUTH_CALLS_PER_ADDRESS
    starts_per_destination: Window = STARTS_PER_DESTINATION
    wrong_codes_per_destination: Window = WRONG_CODES_PER_DESTINATION
    resend_after_seconds: int = DEFAULT_RESEND_AFTER_SECONDS
    sms_per_country: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_SMS_PER_COUNTRY))
    sms_per_other_country: int = DEFAULT_SMS_PER_OTHER_COUNTRY
    # Client addresses no per-address limit applies to (e.g. a load-test source).
    unlimited_addresses: frozenset[str] = frozenset()
    # X-Forwarded-For entries the gateway trusts, counted from the right: in AWS one, the
    # client address API Gateway appends (the NLB between them adds none).
    forwarded_hops: int = DEFAULT_FORWARDED_HOPS

    def sms_per_day(self, region: str) -> int:
        return self.sms_per_country.get(region, self.sms_per_other_country)


def parse_country_caps(text: str) -> tuple[dict[str, int], int | None]:
    """``"IN=50000,GB=100,*=200"`` → ({"IN": 50000, "GB": 100}, 200)."""
    caps: dict[str, int] = {}
    other: int | None = None
    for part in filter(None, (p.strip() for p in text.split(","))):
        region, sep, number = part.partition("=")
        if not sep or not number.strip().isdigit():
            raise settings.SettingsError(f"HISAAB_SMS_PER_COUNTRY_PER_DAY: {part!r} is not REGION=COUNT")
        region = region.strip().upper()
        if region == OTHER_COUNTRIES:
            other = int(number)
        else:
            caps[region] = int(number)
    return caps, other


def load(lookup: Callable[[str], str] = settings.env_var) -> SignInLimits:
    """The limits, with this environment's overrides:

    HISAAB_SMS_PER_COUNTRY_PER_DAY  e.g. ``IN=50000,*=200`` (merged over the defaults)
    HISAAB_RESEND_AFTER_SECONDS     seconds between two codes to one destination
    HISAAB_UNLIMITED_ADDRESSES      comma-separated client addresses exempt from the
                                    per-address limits
    HISAAB_FORWARDED_HOPS           X-Forwarded-For hops the gateway trusts

    ``lookup`` reads a variable: the process environment, or (for the local stack,
    which writes Envoy's config for the services it starts) theirs.
    """
    caps, other = parse_country_caps(lookup("HISAAB_SMS_PER_COUNTRY_PER_DAY"))
    resend = lookup("HISAAB_RESEND_AFTER_SECONDS")
    unlimited = lookup("HISAAB_UNLIMITED_ADDRESSES")
    hops = lookup("HISAAB_FORWARDED_HOPS")
    return SignInLimits(
        resend_after_seconds=int(resend) if resend else DEFAULT_RESEND_AFTER_SECONDS,
        sms_per_country={**DEFAULT_SMS_PER_COUNTRY, **caps},
        sms_per_other_country=DEFAULT_SMS_PER_OTHER_COUNTRY if other is None else other,
        unlimited_addresses=frozenset(a.strip() for a in unlimited.split(",") if a.strip()),
        forwarded_hops=int(hops) if hops else DEFAULT_FORWARDED_HOPS,
    )


def business_day(instant: datetime) -> tuple[datetime, datetime]:
    """The business day (``libs.clock``'s zone) that holds ``instant``, as UTC bounds."""
    day = clock.business_date(instant)
    start = datetime.combine(day, time(0), tzinfo=clock.BUSINESS_ZONE)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=clock.BUSINESS_ZONE)
    return start.astimezone(instant.tzinfo), end.astimezone(instant.tzinfo)


def seconds_until(end: datetime, now: datetime) -> int:
    """Whole seconds to wait, rounded up, never below one."""
    return max(1, int((end - now).total_seconds() + 0.999))
