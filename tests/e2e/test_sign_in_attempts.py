"""Wrong sign-in codes sent all at once: at most five are ever checked against a challenge."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.support import Api, random_phone

pytestmark = pytest.mark.e2e

GUESSES = 64
MAX_ATTEMPTS = 5


def test_concurrent_wrong_codes_get_five_evaluations_then_the_challenge_is_closed(api: Api) -> None:
    phone = random_phone()
    before = api.otp_lines()
    started = api.call("POST", "/v1/auth:startSignIn", json={"phoneNumber": phone})
    assert started.status_code == 200, started.text
    challenge = started.json()["challengeId"]
    code = api.code_for(phone, before)
    wrong = f"{(int(code) + 1) % 10**6:06d}"

    def guess(_: int) -> httpx.Response:
        with httpx.Client(base_url=api.stack.rest_url, timeout=30) as client:
            return client.post("/v1/auth:verifySignIn", json={"challengeId": challenge, "code": wrong})

    with ThreadPoolExecutor(max_workers=GUESSES) as pool:
        answers = list(pool.map(guess, range(GUESSES)))
    assert all(a.status_code in (400, 401, 403) for a in answers), {a.status_code for a in answers}
    messages = [a.json()["message"] for a in answers]
    evaluated = sum("not correct" in m for m in messages)
    closed = sum("too many wrong codes" in m for m in messages)
    assert evaluated == MAX_ATTEMPTS and closed == GUESSES - MAX_ATTEMPTS, messages

    # The right code no longer opens it either.
    late = api.call("POST", "/v1/auth:verifySignIn", json={"challengeId": challenge, "code": code})
    assert late.status_code != 200 and "too many wrong codes" in late.json()["message"]
