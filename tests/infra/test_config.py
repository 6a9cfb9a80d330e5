"""Environment configuration and phase switches; phase 1 runs the services with caches off."""

from __future__ import annotations

import pytest

from infra import config, limits
from libs import settings
from libs.cache import Cache


def test_phase_switches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HISAAB_INFRA_PHASE", raising=False)
    one, two, three = (config.load("prod", phase) for phase in (1, 2, 3))
    assert (one.cache, one.aurora_readers, one.multi_region) == (False, 0, False)
    assert (two.cache, two.aurora_readers, two.multi_region) == (True, 2, False)
    assert three.multi_region and config.load("staging", 2).aurora_readers == 1
    monkeypatch.setenv("HISAAB_INFRA_PHASE", "2")
    assert config.load("dev").phase == 2


def test_bad_environment_or_phase_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown environment"):
        config.load("qa")
    with pytest.raises(ValueError, match="phase"):
        config.load("prod", 4)


def test_account_and_admins_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HISAAB_INFRA_ACCOUNT", "123456789012")
    monkeypatch.setenv(
        "HISAAB_INFRA_ADMIN_ROLE_ARNS", "arn:aws:iam::123456789012:role/a, arn:aws:iam::123456789012:role/b"
    )
    loaded = config.load("staging", 1)
    assert loaded.account == "123456789012"
    assert loaded.admin_role_arns == ("arn:aws:iam::123456789012:role/a", "arn:aws:iam::123456789012:role/b")


def test_sign_in_limits_are_tighter_than_the_rest() -> None:
    assert limits.WAF_PER_IP_AUTH < limits.WAF_PER_IP_ALL
    assert limits.AUTH_ROUTES.rate_per_second < limits.STAGE.rate_per_second
    # WAF refuses rate limits under 10 per window.
    assert limits.WAF_PER_IP_AUTH >= 10


def test_production_settings_need_no_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    # Phase 1 has no cache: REDIS_URL is unset and the services still start.
    for name, value in {
        "HISAAB_ENV": "prod",
        "HISAAB_AUTH_PROVIDER": "cognito",
        "HISAAB_COGNITO_USER_POOL_ID": "ap-south-1_example",
        "HISAAB_PAGE_TOKEN_KEY": "k" * 48,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("REDIS_URL", raising=False)
    assert settings.load("expense").redis_url == ""


async def test_a_cache_without_a_url_is_off() -> None:
    cache = Cache("", prefix="t")
    await cache.set(cache.key("k"), b"v", ttl_seconds=60)
    assert await cache.get(cache.key("k")) is None
