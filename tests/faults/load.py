"""Client side of the fault tests: creates that keep their request_id across retries,
and the checks that the ledger ends up whole."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.faults.control import CLIENT_DEADLINE_SECONDS
from tests.support import Api, Session, paid_by_one

# What a client may be told while a dependency is down: retry later (503) or in time (504).
RETRIABLE = {503, 504}
# The google.rpc.Code of each, as the JSON body carries it.
RETRIABLE_CODES = {503: 14, 504: 4}
# CANCELLED, which grpc gives the calls a stopping server had received but not yet started.
CANCELLED = 499


@dataclass
class Answer:
    status: int  # 0: no answer before the client's deadline
    body: dict[str, Any]
    sent: float  # time.monotonic()
    seconds: float


@dataclass
class Create:
    """One expense create, retried with the same request_id until it succeeds."""

    amount: int
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    answers: list[Answer] = field(default_factory=list)

    @property
    def name(self) -> str | None:
        last = self.answers[-1] if self.answers else None
        return str(last.body["name"]) if last is not None and last.status == 200 else None


@dataclass
class Ledger:
    """A group of two whose owner pays every expense, split equally."""

    owner: Session
    friend: Session
    group: str

    @classmethod
    def open(cls, api: Api) -> Ledger:
        owner, friend = api.sign_in(), api.sign_in()
        api.buy_pro(owner)  # no daily limit on creates
        made = api.call("POST", "/v1/groups", owner, json={"displayName": "Faults", "kind": "OTHER"})
        assert made.status_code == 200, made.text
        group = str(made.json()["name"])
        added = api.call("POST", f"/v1/{group}/members", owner, json={"phoneNumber": friend.phone})
        assert added.status_code == 200, added.text
        return cls(owner, friend, group)

    def body(self, amount: int) -> dict[str, Any]:
        return paid_by_one(self.owner.user_id, [self.owner.user_id, self.friend.user_id], amount)

    async def send(self, client: httpx.AsyncClient, create: Create) -> Answer:
        sent = time.monotonic()
        try:
            resp = await client.post(
                f"/v1/{self.group}/expenses",
                params={"requestId": create.request_id},
                json=self.body(create.amount),
                headers=self.owner.headers,
                timeout=CLIENT_DEADLINE_SECONDS,
            )
            status, body = resp.status_code, _json(resp)
        except httpx.TransportError as err:
            status, body = 0, {"transport": repr(err)}
        answer = Answer(status, body, sent, time.monotonic() - sent)
        create.answers.append(answer)
        return answer

    def expenses(self, api: Api) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        token = ""
        while True:
            params = {"pageSize": 100, **({"pageToken": token} if token else {})}
            page = api.call("GET", f"/v1/{self.group}/expenses", self.friend, params=params)
            assert page.status_code == 200, page.text
            found += page.json().get("expenses", [])
            token = page.json().get("nextPageToken", "")
            if not token:
                return found

    def nets(self, api: Api) -> dict[str, int]:
        """Each member's net balance in INR minor units."""
        resp = api.call("GET", f"/v1/{self.group}/balances", self.friend)
        assert resp.status_code == 200, resp.text
        return {
            m["user"]: sum(int(n["amountMinor"]) for n in m.get("net", []) if n["currencyCode"] == "INR")
            for m in resp.json()["members"]
        }

    def assert_whole(self, api: Api, creates: list[Create]) -> None:
        """Exactly one expense per request_id that succeeded, none other, and balances that
        add up: nothing lost, duplicated or half-written."""
        assert all(c.name for c in creates), [c.answers[-1] for c in creates if c.name is None][:3]
        names = [str(c.name) for c in creates]
        assert len(set(names)) == len(creates)
        listed = self.expenses(api)
        assert sorted(e["name"] for e in listed) == sorted(names)
        total = sum(c.amount for c in creates)
        assert sum(int(e["total"]["amountMinor"]) for e in listed) == total
        assert self.nets(api) == {
            f"users/{self.owner.user_id}": total // 2,
            f"users/{self.friend.user_id}": -(total // 2),
        }


async def until(predicate: Callable[[], bool], seconds: float) -> None:
    """Wait for a positive signal, polling; fails after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() >= deadline:
            raise AssertionError(f"still not so after {seconds:g}s")
        await asyncio.sleep(0.01)


def _json(resp: httpx.Response) -> dict[str, Any]:
    try:
        body = resp.json()
    except ValueError:
        return {"text": resp.text}
    return body if isinstance(body, dict) else {"value": body}


def assert_retriable(answer: Answer, *, in_time: bool = True) -> None:
    """A failure the client can act on: 503/504 with a google.rpc.Status JSON body, before
    the client's deadline. With ``in_time=False`` (a process stopping under a crowd of
    requests), also no answer before it or CANCELLED: a client that sent a request_id
    retries those as safely."""
    if not in_time and answer.status == 0 and "Timeout" in answer.body.get("transport", ""):
        return
    if not in_time and answer.status == CANCELLED and answer.body.get("code") == 1:
        return
    assert answer.status in RETRIABLE, answer
    assert answer.body.get("code") == RETRIABLE_CODES[answer.status], answer
    assert answer.seconds < CLIENT_DEADLINE_SECONDS or not in_time, answer
