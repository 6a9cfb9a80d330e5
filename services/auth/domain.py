"""Sign-in rules: contacts, one-time codes and their limits. Pure; no I/O."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from libs import limits, validation

CODE_LENGTH = 6
CODE_TTL = timedelta(minutes=10)
MAX_ATTEMPTS = 5
RESEND_AFTER = timedelta(seconds=limits.DEFAULT_RESEND_AFTER_SECONDS)
MAX_CHALLENGES_PER_HOUR = limits.STARTS_PER_DESTINATION.limit
ACCESS_TOKEN_TTL = timedelta(hours=1)
REFRESH_TOKEN_TTL = timedelta(days=30)


class Channel(Enum):
    SMS = "sms"
    EMAIL = "email"


@dataclass(frozen=True)
class Contact:
    channel: Channel
    value: str  # E.164 phone or lower-cased-domain email

    @classmethod
    def phone(cls, raw: str, field: str = "phone_number") -> Contact:
        return cls(Channel.SMS, validation.phone_number(raw, field))

    @classmethod
    def email(cls, raw: str, field: str = "email") -> Contact:
        return cls(Channel.EMAIL, validation.email(raw, field))

    def masked(self) -> str:
        if self.channel is Channel.SMS:
            return self.value[:3] + "*" * max(0, len(self.value) - 7) + self.value[-4:]
        local, _, domain = self.value.partition("@")
        return f"{local[:1]}***@{domain}"


def new_code() -> str:
    return f"{secrets.randbelow(10**CODE_LENGTH):0{CODE_LENGTH}d}"


def hash_code(pepper: bytes, challenge_id: str, code: str) -> bytes:
    return hmac.new(pepper, f"{challenge_id}:{code}".encode(), hashlib.sha256).digest()


def code_matches(pepper: bytes, challenge_id: str, code: str, stored: bytes) -> bool:
    return hmac.compare_digest(hash_code(pepper, challenge_id, code), stored)


@dataclass(frozen=True)
class Challenge:
    id: str
    contact: Contact
    code_hash: bytes | None
    provider_state: str
    attempts: int
    expires_at: datetime
    consumed: bool

    def refusal(self, now: datetime) -> str | None:
        """Why this challenge can no longer be answered, or None when it can."""
        if self.consumed:
            return "this code was already used"
        if now >= self.expires_at:
            return "the code has expired; request a new one"
        if self.attempts >= MAX_ATTEMPTS:
            return "too many wrong codes; request a new one"
        return None


def resend_wait(
    last_sent: datetime | None,
    sent_last_hour: int,
    now: datetime,
    *,
    resend_after: timedelta = RESEND_AFTER,
    per_hour: int = MAX_CHALLENGES_PER_HOUR,
) -> int:
    """Seconds the contact must wait before another code may be sent (0 = now)."""
    if sent_last_hour >= per_hour:
        return 3600
    if last_sent is None:
        return 0
    remaining = (last_sent + resend_after - now).total_seconds()
    return max(0, int(remaining + 0.999))


def sms_region(contact: Contact) -> str:
    """The ISO 3166 region a phone number belongs to ("IN"), "ZZ" when unknown."""
    import phonenumbers

    return phonenumbers.region_code_for_number(phonenumbers.parse(contact.value, None)) or "ZZ"


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


# The profile fields a user may change (UpdateMe).
USER_FIELDS = ("display_name", "default_currency", "locale", "upi_vpa")
# The profile fields other members see (a member's name, a friend ledger's name): a change
# to one is published as "user.updated". Whether a user is ACTIVE or INVITED changes only
# on first sign-in ("user.activated").
MEMBER_VISIBLE_FIELDS = ("display_name",)


@dataclass(frozen=True)
class UserRow:
    id: str
    phone_number: str | None
    email: str | None
    display_name: str
    default_currency: str
    locale: str
    upi_vpa: str
    state: str
    version: int
    created_at: datetime
    updated_at: datetime

    def claims(self) -> dict[str, Any]:
        return {"phone_number": self.phone_number, "email": self.email}


@dataclass(frozen=True)
class DeviceRow:
    id: str
    user_id: str
    platform: str
    push_token: str
    app_version: str
    created_at: datetime
