"""The whole local stack with the real services: sign in by OTP and create a group over REST."""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import psycopg
import pytest

from tools.devstack.otp_feed import OtpFeed, OtpRecord
from tools.devstack.postgres import start_postgres
from tools.devstack.stack import Stack, free_ports

pytestmark = pytest.mark.e2e
PHONE = "+919800000002"


def _next_otp(feed: OtpFeed, timeout: float = 10) -> OtpRecord:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        records = feed.poll()
        if records:
            return records[-1]
        time.sleep(0.05)
    raise AssertionError("no OTP code was written to the dev OTP log")


def test_sign_in_and_create_a_group_then_stop_cleanly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("DATABASE_URL", "REDIS_URL", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    stack = Stack(tmp_path, ports=free_ports(), database="hisaab_devstack_e2e")
    with stack:
        children = [p.pid for p in stack.supervisor.processes]
        assert stack.envoy is not None
        feed = OtpFeed(stack.otp_log)
        with httpx.Client(base_url=stack.rest_url, timeout=10) as rest:
            started = rest.post("/v1/auth:startSignIn", json={"phone_number": PHONE})
            assert started.status_code == 200, started.text
            otp = _next_otp(feed)
            assert otp.destination == PHONE
            session = rest.post(
                "/v1/auth:verifySignIn",
                json={"challenge_id": started.json()["challengeId"], "code": otp.code},
            )
            assert session.status_code == 200, session.text
            token = session.json()["accessToken"]
            group = rest.post(
                "/v1/groups",
                json={"display_name": "Goa trip", "kind": "TRIP"},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert group.status_code == 200, group.text
            assert group.json()["displayName"] == "Goa trip"
        assert stack.postgres is not None
        admin_url = stack.postgres.admin_url
        envoy_pid = stack.envoy.pid

    for pid in [*children, envoy_pid]:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert stack.valkey is not None
    assert not stack.valkey.running
    pg = start_postgres(tmp_path)  # the fresh per-run database was dropped at stop
    try:
        with psycopg.connect(admin_url) as conn:
            rows = conn.execute("SELECT 1 FROM pg_database WHERE datname = 'hisaab_devstack_e2e'").fetchall()
        assert rows == []
    finally:
        pg.stop()
