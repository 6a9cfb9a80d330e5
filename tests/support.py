"""Test support: a REST client for the local stack and dev sign-in through the OTP feed."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import httpx

from libs import clock
from tools.devstack.stack import Stack

# How many processes the suite and the benchmarks run of the ledger services: the
# chart's minimum replicas, so no answer may depend on one process's memory.
LEDGER_PROCESSES = {"expense": 2, "settlement": 2}

# The suite's sign-in limits. Every test signs in from 127.0.0.1, so that address is
# exempt from the per-address limits; the limit tests pose as other clients through
# X-Forwarded-For, which the gateway trusts one hop deep as it does behind API Gateway.
# Codes to one small country are capped low so that cap can be reached; the resend
# interval is short so a test can open a second challenge for one number.
SMS_CAPPED_REGION = "IS"
SMS_CAPPED_REGION_PER_DAY = 3
RESEND_AFTER_SECONDS = 5
SIGN_IN_LIMITS_ENV = {
    "HISAAB_UNLIMITED_ADDRESSES": "127.0.0.1,::1",
    "HISAAB_SMS_PER_COUNTRY_PER_DAY": f"{SMS_CAPPED_REGION}={SMS_CAPPED_REGION_PER_DAY}",
    "HISAAB_RESEND_AFTER_SECONDS": str(RESEND_AFTER_SECONDS),
}


@dataclass
class Session:
    user_id: str
    access_token: str
    refresh_token: str
    phone: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


class Api:
    """A thin REST client for the tests, plus dev sign-in through the OTP feed."""

    def __init__(self, stack: Stack):
        self.stack = stack
        self.http = httpx.Client(base_url=stack.rest_url, timeout=20)

    def call(self, method: str, path: str, session: Session | None = None, **kw: Any) -> httpx.Response:
        headers = dict(kw.pop("headers", {}))
        if session is not None:
            headers.update(session.headers)
        return self.http.request(method, path, headers=headers, **kw)

    def code_for(self, destination: str, after_lines: int) -> str:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            lines = self.stack.otp_log.read_text().splitlines() if self.stack.otp_log.exists() else []
            for line in reversed(lines[after_lines:]):
                record = json.loads(line)
                if record["destination"] == destination:
                    return str(record["code"])
            time.sleep(0.05)
        raise AssertionError(f"no code delivered to {destination}")

    def otp_lines(self) -> int:
        path: Path = self.stack.otp_log
        return len(path.read_text().splitlines()) if path.exists() else 0

    def sign_in(self, phone: str | None = None) -> Session:
        phone = phone or random_phone()
        before = self.otp_lines()
        started = self.call("POST", "/v1/auth:startSignIn", json={"phoneNumber": phone})
        assert started.status_code == 200, started.text
        code = self.code_for(phone, before)
        verified = self.call(
            "POST",
            "/v1/auth:verifySignIn",
            json={"challengeId": started.json()["challengeId"], "code": code},
        )
        assert verified.status_code == 200, verified.text
        body = verified.json()
        return Session(body["user"]["userId"], body["accessToken"], body["refreshToken"], phone)

    def quota(self, session: Session, key: str) -> dict[str, Any]:
        """The caller's use of quota ``key`` in its current window (GET /v1/users/me/features)."""
        features = self.call("GET", "/v1/users/me/features", session)
        assert features.status_code == 200, features.text
        return dict(next(q for q in features.json()["quotas"] if q["key"] == key))

    def quota_window_with_room(self, session: Session, key: str, seconds: float) -> dict[str, Any]:
        """The quota's current window, once at least ``seconds`` of it are left: for a test that
        needs one window to itself, e.g. to fill a daily quota and check it stays full. Near the
        reset it waits for the server to report the next window."""
        usage = self.quota(session, key)
        reset = parse_time(usage["resetTime"])
        if (reset - clock.now()).total_seconds() >= seconds:
            return usage
        deadline = time.monotonic() + max((reset - clock.now()).total_seconds(), 0) + 30
        while parse_time(usage["resetTime"]) <= reset:
            assert time.monotonic() < deadline, f"quota {key} still reports the window ending {reset}"
            time.sleep(0.2)
            usage = self.quota(session, key)
        return usage

    def buy_pro(self, session: Session) -> None:
        """A month of Pro through the dev payment provider: unlimited expenses, recurring rules."""
        order = self.call(
            "POST", "/v1/orders", session, json={"pack": "packs/pro_monthly", "provider": "DEV"}
        )
        assert order.status_code == 200, order.text
        paid = self.call(
            "POST",
            f"/v1/{order.json()['name']}:confirmPayment",
            session,
            json={"providerPaymentId": f"pay_{uuid.uuid4()}"},
        )
        assert paid.status_code == 200, paid.text


def feed_until(
    api: Api,
    session: Session,
    group: str,
    done: Callable[[list[dict[str, Any]]], bool],
    *,
    timeout: float = 30.0,
) -> list[dict[str, Any]]:
    """The group's activity feed (newest first) once ``done`` holds for it. Settlement,
    member and group entries arrive through the events queue, a moment after the change."""
    deadline = time.monotonic() + timeout
    while True:
        resp = api.call("GET", f"/v1/{group}/activities", session, params={"pageSize": "100"})
        assert resp.status_code == 200, resp.text
        feed: list[dict[str, Any]] = resp.json().get("activities", [])
        if done(feed):
            return feed
        assert time.monotonic() < deadline, f"the feed of {group} never got there: {feed}"
        time.sleep(0.2)


def paid_by_one(
    payer: str,
    participants: Iterable[str],
    amount: int,
    *,
    description: str = "Dinner",
    category: str = "FOOD",
    day: date = date(2026, 11, 1),
) -> dict[str, Any]:
    """A REST expense body: ``payer`` pays ``amount`` (INR minor units), split equally."""
    return {
        "description": description,
        "category": category,
        "transactionDate": {"year": day.year, "month": day.month, "day": day.day},
        "total": {"currencyCode": "INR", "amountMinor": str(amount)},
        "payers": [{"user": f"users/{payer}", "paidMinor": str(amount)}],
        "split": {"equal": {"participants": [f"users/{u}" for u in participants]}},
    }


def parse_time(text: str) -> datetime:
    """An RFC 3339 timestamp as the gateway writes it (``...Z``)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def random_phone() -> str:
    # Indian mobile numbers start 6-9; the rest is random so tests never collide.
    return f"+9198{uuid.uuid4().int % 10**8:08d}"


def service_token(stack: Stack, service: str) -> str:
    """An access token of ``service``'s own identity, as the stack's services mint it."""
    from tools.devstack.identity import service_token as mint

    return mint(stack.data_dir, service)
