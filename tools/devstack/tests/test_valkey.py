"""Embedded Valkey: fast start, stop/start mid-test on the same URL, data kept between runs."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import redis

from tools.devstack.valkey import start_valkey


@pytest.fixture(autouse=True)
def _no_redis_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)


def test_stop_start_and_restart_keep_data(tmp_path: Path) -> None:
    began = time.monotonic()
    valkey = start_valkey(tmp_path)
    assert time.monotonic() - began < 1.0  # typically ~0.02 s; generous for a busy CI box
    try:
        client = redis.Redis.from_url(valkey.url, socket_timeout=1)
        client.set("balance:goa", "1250")

        valkey.stop()  # "Redis down" for the code under test
        assert not valkey.running
        with pytest.raises(redis.exceptions.ConnectionError):
            client.get("balance:goa")

        valkey.start()  # back on the same URL, with the data
        assert client.get("balance:goa") == b"1250"
        client.close()
    finally:
        valkey.stop()

    again = start_valkey(tmp_path)  # a later run on the same data dir
    try:
        with redis.Redis.from_url(again.url) as client:
            assert client.get("balance:goa") == b"1250"
    finally:
        again.stop()
    assert (tmp_path / "valkey" / "appendonlydir").is_dir()


def test_redis_url_is_used_as_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://cache.internal:6379/2")

    valkey = start_valkey(tmp_path)
    valkey.start()
    valkey.stop()

    assert valkey.url == "redis://cache.internal:6379/2"
    assert not valkey.managed
    assert list(tmp_path.iterdir()) == []
