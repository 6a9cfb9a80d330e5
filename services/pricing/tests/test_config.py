"""Payment configuration: the dev provider can never run in production, Razorpay needs its secrets."""

from __future__ import annotations

import pytest

from libs.settings import SettingsError
from services.pricing import config


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HISAAB_PAYMENT_PROVIDER", "HISAAB_RAZORPAY_KEY_ID", "HISAAB_RAZORPAY_KEY_SECRET",
                 "HISAAB_RAZORPAY_WEBHOOK_SECRET", "HISAAB_PRICING_ADMINS"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)


def _razorpay_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HISAAB_RAZORPAY_KEY_ID", "rzp_test_1")
    monkeypatch.setenv("HISAAB_RAZORPAY_KEY_SECRET", "s3cret")
    monkeypatch.setenv("HISAAB_RAZORPAY_WEBHOOK_SECRET", "wh00k")


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_dev_provider_is_refused_in_production(monkeypatch: pytest.MonkeyPatch, env: str) -> None:
    _razorpay_env(monkeypatch)
    monkeypatch.setenv("HISAAB_PAYMENT_PROVIDER", "razorpay,dev")
    with pytest.raises(SettingsError, match="dev"):
        config.load(env)
    monkeypatch.setenv("HISAAB_PAYMENT_PROVIDER", "razorpay")
    assert config.load(env).providers == {"razorpay"}


def test_defaults_dev_locally_and_razorpay_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    assert config.load("dev").providers == {"dev"}
    assert config.load("test").providers == {"dev"}
    with pytest.raises(SettingsError, match="HISAAB_RAZORPAY_KEY_ID"):
        config.load("prod")  # razorpay by default, and no keys
    _razorpay_env(monkeypatch)
    loaded = config.load("prod")
    assert loaded.providers == {"razorpay"}
    assert "s3cret" not in repr(loaded) and "wh00k" not in repr(loaded)


def test_razorpay_needs_the_webhook_secret_and_unknown_providers_are_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HISAAB_PAYMENT_PROVIDER", "razorpay")
    monkeypatch.setenv("HISAAB_RAZORPAY_KEY_ID", "rzp_test_1")
    monkeypatch.setenv("HISAAB_RAZORPAY_KEY_SECRET", "s3cret")
    with pytest.raises(SettingsError, match="WEBHOOK"):
        config.load("dev")
    monkeypatch.setenv("HISAAB_PAYMENT_PROVIDER", "paypal")
    with pytest.raises(SettingsError, match="paypal"):
        config.load("dev")
