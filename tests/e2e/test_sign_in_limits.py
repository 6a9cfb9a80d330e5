"""Sign-in abuse limits: per client address (gateway and service), per destination, per country.

The suite signs in from 127.0.0.1, which the test stack exempts (tests/support.py); these
tests pose as other clients with X-Forwarded-For, the hop the gateway trusts as it trusts
API Gateway's. Each uses an address of its own from a documentation range, so the order
the tests run in does not matter. Counting windows are fixed (per-address five minutes,
per-destination an hour, per-country a business day): a test that saw its window turn over
mid-way starts again rather than conclude anything from a half-counted window.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import grpc
import httpx
import phonenumbers
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from hisaab.auth.v1 import auth_pb2, auth_pb2_grpc

from libs import clock, limits
from libs.rpc.client_address import CLIENT_ADDRESS_HEADER
from tests.support import (
    RESEND_AFTER_SECONDS,
    SMS_CAPPED_REGION,
    SMS_CAPPED_REGION_PER_DAY,
    Api,
    random_phone,
)

pytestmark = pytest.mark.e2e

T = TypeVar("T")


def _address() -> str:
    # The benchmarking range (RFC 2544): never a real client, and large enough that two
    # tests of one run do not draw the same address.
    return f"198.18.{random.randint(0, 255)}.{random.randint(1, 254)}"


def _reason(body: dict[str, Any]) -> str:
    return next((d["reason"] for d in body.get("details", []) if d["@type"].endswith("ErrorInfo")), "")


def _retry_delay(body: dict[str, Any]) -> float:
    delay = next(d["retryDelay"] for d in body.get("details", []) if d["@type"].endswith("RetryInfo"))
    return float(delay.rstrip("s"))


def _within_one_window(seconds: int, attempt: Callable[[], T]) -> T:
    """Runs ``attempt`` until one run starts and ends in the same fixed window."""
    for _ in range(3):
        before = int(time.time()) // seconds
        result = attempt()
        if int(time.time()) // seconds == before:
            return result
    raise AssertionError("three windows turned over during the test")


def _start(api: Api, phone: str, address: str | None = None) -> httpx.Response:
    headers = {"X-Forwarded-For": address} if address else {}
    return api.call("POST", "/v1/auth:startSignIn", json={"phoneNumber": phone}, headers=headers)


def test_twelve_starts_from_one_address_the_ones_over_the_limit_get_429(api: Api) -> None:
    limit = limits.STARTS_PER_ADDRESS.limit

    def attempt() -> list[httpx.Response]:
        address = _address()
        return [_start(api, random_phone(), address) for _ in range(limit + 2)]

    answers = _within_one_window(limits.ADDRESS_WINDOW_SECONDS, attempt)
    assert [a.status_code for a in answers] == [200] * limit + [429, 429], [a.text for a in answers]
    refused = answers[-1]
    assert refused.headers["content-type"].startswith("application/json")
    assert refused.json()["code"] == grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]
    assert int(refused.headers["retry-after"]) == limits.ADDRESS_WINDOW_SECONDS


def test_the_gateway_limits_every_sign_in_call_per_address(api: Api) -> None:
    """Refresh is not limited by the service at all: only Envoy's shared bucket refuses it."""
    limit = limits.AUTH_CALLS_PER_ADDRESS.limit

    def attempt() -> list[int]:
        address = _address()
        with httpx.Client(base_url=api.stack.rest_url, timeout=20) as client:
            return [
                client.post(
                    "/v1/auth:refresh", json={"refreshToken": "x"}, headers={"X-Forwarded-For": address}
                ).status_code
                for _ in range(limit + 1)
            ]

    codes = _within_one_window(limits.ADDRESS_WINDOW_SECONDS, attempt)
    assert codes[:limit] == [401] * limit and codes[limit] == 429, codes
    # Another address is untouched.
    other = api.call(
        "POST", "/v1/auth:refresh", json={"refreshToken": "x"}, headers={"X-Forwarded-For": _address()}
    )
    assert other.status_code == 401


def test_verifies_from_one_address_are_limited(api: Api) -> None:
    limit = limits.VERIFIES_PER_ADDRESS.limit

    def attempt() -> list[int]:
        address = _address()
        body = {"challengeId": str(uuid.uuid4()), "code": "123456"}
        return [
            api.call(
                "POST", "/v1/auth:verifySignIn", json=body, headers={"X-Forwarded-For": address}
            ).status_code
            for _ in range(limit + 1)
        ]

    codes = _within_one_window(limits.ADDRESS_WINDOW_SECONDS, attempt)
    assert codes == [400] * limit + [429], codes


def test_the_service_counts_addresses_itself_exactly_under_concurrency(api: Api) -> None:
    """Straight to auth-service, as the gateway would call it: the count is PostgreSQL's,
    shared by every replica, and concurrent starts never get past it."""
    limit = limits.STARTS_PER_ADDRESS.limit
    tries = limit + 6

    def attempt() -> list[grpc.StatusCode]:
        address = _address()
        with grpc.insecure_channel(api.stack.address("auth")) as channel:
            stub = auth_pb2_grpc.AuthServiceStub(channel)

            def start(_: int) -> grpc.StatusCode:
                try:
                    stub.StartSignIn(
                        auth_pb2.StartSignInRequest(phone_number=random_phone()),
                        metadata=((CLIENT_ADDRESS_HEADER, address),),
                        timeout=30,
                    )
                except grpc.RpcError as err:
                    status = rpc_status.from_call(err)  # type: ignore[arg-type]
                    assert status is not None
                    info = [d for d in status.details if d.Is(error_details_pb2.RetryInfo.DESCRIPTOR)]
                    retry = error_details_pb2.RetryInfo()
                    info[0].Unpack(retry)
                    assert 0 < retry.retry_delay.seconds <= limits.ADDRESS_WINDOW_SECONDS
                    return err.code()
                return grpc.StatusCode.OK

            with ThreadPoolExecutor(max_workers=tries) as pool:
                return list(pool.map(start, range(tries)))

    codes = _within_one_window(limits.ADDRESS_WINDOW_SECONDS, attempt)
    assert codes.count(grpc.StatusCode.OK) == limit, codes
    assert codes.count(grpc.StatusCode.RESOURCE_EXHAUSTED) == tries - limit, codes


def test_wrong_codes_for_one_destination_are_limited_across_its_challenges(api: Api) -> None:
    window = limits.WRONG_CODES_PER_DESTINATION
    per_challenge = 5

    def attempt() -> tuple[list[int], httpx.Response]:
        phone = random_phone()
        codes: list[int] = []
        first = _start(api, phone)
        assert first.status_code == 200, first.text
        for _ in range(per_challenge):
            codes.append(_verify(api, first.json()["challengeId"], "000000").status_code)
        second = _start_when_allowed(api, phone)
        for _ in range(window.limit - per_challenge):
            codes.append(_verify(api, second["challengeId"], "000000").status_code)
        return codes, _verify(api, second["challengeId"], "000000")

    codes, refused = _within_one_window(window.seconds, attempt)
    assert codes == [400] * window.limit
    assert refused.status_code == 429, refused.text
    body = refused.json()
    assert _reason(body) == "OTP_THROTTLED" and "wrong codes" in body["message"]
    assert 0 < _retry_delay(body) <= window.seconds


def test_codes_to_one_country_stop_at_its_daily_cap(api: Api) -> None:
    def attempt() -> list[httpx.Response]:
        return [_start(api, _capped_region_phone()) for _ in range(SMS_CAPPED_REGION_PER_DAY + 1)]

    day = clock.business_today()
    answers = attempt()
    while clock.business_today() != day:  # the business day turned mid-way: the cap restarted
        day = clock.business_today()
        answers = attempt()
    expected = [200] * SMS_CAPPED_REGION_PER_DAY + [429]
    assert [a.status_code for a in answers] == expected, [a.text for a in answers]
    body = answers[-1].json()
    assert _reason(body) == "SMS_COUNTRY_CAP"
    _, day_end = limits.business_day(clock.now())
    assert 0 < _retry_delay(body) <= (day_end - clock.now()).total_seconds() + 5
    # Another country is not affected.
    assert _start(api, random_phone()).status_code == 200


def _verify(api: Api, challenge: str, code: str) -> httpx.Response:
    return api.call("POST", "/v1/auth:verifySignIn", json={"challengeId": challenge, "code": code})


def _start_when_allowed(api: Api, phone: str) -> dict[str, Any]:
    deadline = time.monotonic() + RESEND_AFTER_SECONDS + 20
    while True:
        answer = _start(api, phone)
        if answer.status_code == 200:
            return dict(answer.json())
        assert answer.status_code == 429 and time.monotonic() < deadline, answer.text
        time.sleep(0.5)


def _capped_region_phone() -> str:
    example = phonenumbers.example_number_for_type(SMS_CAPPED_REGION, phonenumbers.PhoneNumberType.MOBILE)
    assert example is not None
    national = str(example.national_number)
    while True:
        candidate = national[:2] + "".join(random.choices("0123456789", k=len(national) - 2))
        number = phonenumbers.parse(f"+{example.country_code}{candidate}", None)
        if (
            phonenumbers.is_valid_number(number)
            and phonenumbers.region_code_for_number(number) == SMS_CAPPED_REGION
        ):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
