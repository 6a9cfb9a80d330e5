"""Input checks shared by services; each failure names the field (INVALID_ARGUMENT)."""

from __future__ import annotations

import re
import unicodedata
import uuid

import phonenumbers

from libs.errors import InvalidArgument

_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9-]{1,63})+$"
)
_LOCALE = re.compile(r"^[a-z]{2,3}(-[A-Z]{2})?$")
_UPI_VPA = re.compile(r"^[A-Za-z0-9._-]{2,256}@[A-Za-z][A-Za-z0-9]{1,63}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")


def phone_number(value: str, field: str = "phone_number") -> str:
    """E.164 form of a valid phone number; the leading + and country code are required."""
    try:
        parsed = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        raise InvalidArgument(field, "must be an E.164 phone number like +919812345678") from None
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidArgument(field, "is not a valid phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def email(value: str, field: str = "email") -> str:
    value = value.strip()
    if len(value) > 254 or not _EMAIL.match(value):
        raise InvalidArgument(field, "is not a valid email address")
    local, _, domain = value.rpartition("@")
    return f"{local}@{domain.lower()}"


# Bidirectional overrides and isolates reorder what a reader sees ("a\u202egnp.exe" shows as
# "aexe.png"): never wanted in a name, a note or a comment.
_BIDI_CONTROLS = frozenset(chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A)))


def _is_control(c: str) -> bool:
    """C0 (U+0000-U+001F), DEL and C1 (U+0080-U+009F)."""
    return ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F


def text(value: str, field: str, *, max_length: int, required: bool = False, multiline: bool = False) -> str:
    """Human-entered text, NFC-normalised and trimmed; ``max_length`` counts code points after that.

    Control characters are refused (a line break only where the field is ``multiline``, where
    CRLF becomes LF), and so are bidirectional overrides and isolates.
    """
    value = unicodedata.normalize("NFC", value).strip()
    if multiline:
        value = value.replace("\r\n", "\n")
    if required and not value:
        raise InvalidArgument(field, "is required")
    if len(value) > max_length:
        raise InvalidArgument(field, f"must be at most {max_length} characters")
    if any(_is_control(c) and not (multiline and c == "\n") for c in value):
        allowed = " other than line breaks" if multiline else ""
        raise InvalidArgument(field, f"must not contain control characters{allowed}")
    if any(c in _BIDI_CONTROLS for c in value):
        raise InvalidArgument(field, "must not contain bidirectional text controls")
    return value


def currency_code(value: str, field: str = "currency_code") -> str:
    from libs import money

    if not _CURRENCY.match(value) or not money.is_known(value):
        raise InvalidArgument(field, "must be an ISO 4217 currency code like INR")
    return value


def locale(value: str, field: str = "locale") -> str:
    if not _LOCALE.match(value):
        raise InvalidArgument(field, "must be a language tag like en-IN or hi-IN")
    return value


def upi_vpa(value: str, field: str = "upi_vpa") -> str:
    if not _UPI_VPA.match(value):
        raise InvalidArgument(field, "must be a UPI address like name@bank")
    return value


def is_uuid(value: str) -> bool:
    """Whether ``value`` is a UUID: ids that are not cannot name anything, so lookups answer NOT_FOUND."""
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
