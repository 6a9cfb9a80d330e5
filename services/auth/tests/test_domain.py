"""Sign-in rules: contacts, code limits, resend throttle."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from libs.errors import InvalidArgument
from services.auth import domain
from services.auth.domain import Challenge, Channel, Contact

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def test_phone_is_normalised_to_e164_and_invalid_ones_name_the_field() -> None:
    assert Contact.phone("+91 98123 45678").value == "+919812345678"
    for bad in ("9812345678", "+91123", "hello", ""):
        with pytest.raises(InvalidArgument) as err:
            Contact.phone(bad)
        assert err.value.field == "phone_number"


def test_email_domain_is_lower_cased() -> None:
    assert Contact.email("Asha@Example.COM").value == "Asha@example.com"
    with pytest.raises(InvalidArgument):
        Contact.email("not-an-email")


def test_masking_hides_most_of_the_contact() -> None:
    assert Contact(Channel.SMS, "+919812345678").masked() == "+91******5678"
    assert Contact(Channel.EMAIL, "asha@example.com").masked() == "a***@example.com"


def test_codes_are_six_digits_and_hashes_are_bound_to_the_challenge() -> None:
    codes = {domain.new_code() for _ in range(200)}
    assert all(len(c) == 6 and c.isdigit() for c in codes)
    assert len(codes) > 150  # random, not a counter
    h = domain.hash_code(b"pepper", "ch1", "123456")
    assert domain.code_matches(b"pepper", "ch1", "123456", h)
    assert not domain.code_matches(b"pepper", "ch2", "123456", h)
    assert not domain.code_matches(b"pepper", "ch1", "123457", h)


def _challenge(**kw: object) -> Challenge:
    base: dict[str, object] = {
        "id": "c",
        "contact": Contact(Channel.SMS, "+919812345678"),
        "code_hash": b"",
        "provider_state": "",
        "attempts": 0,
        "expires_at": NOW + timedelta(minutes=10),
        "consumed": False,
    }
    base.update(kw)
    return Challenge(**base)  # type: ignore[arg-type]


def test_challenge_refuses_after_expiry_five_attempts_or_use() -> None:
    assert _challenge().refusal(NOW) is None
    assert _challenge().refusal(NOW + domain.CODE_TTL) is not None
    assert _challenge(attempts=4).refusal(NOW) is None
    assert _challenge(attempts=5).refusal(NOW) is not None
    assert _challenge(consumed=True).refusal(NOW) is not None


def test_resend_is_throttled() -> None:
    assert domain.resend_wait(None, 0, NOW) == 0
    assert domain.resend_wait(NOW - timedelta(seconds=10), 1, NOW) == 20
    assert domain.resend_wait(NOW - timedelta(seconds=31), 1, NOW) == 0
    assert domain.resend_wait(NOW - timedelta(minutes=5), domain.MAX_CHALLENGES_PER_HOUR, NOW) == 3600
