"""Many simultaneous retries of one create (same request_id) make exactly one resource."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.support import Api

pytestmark = pytest.mark.e2e


def test_concurrent_creates_with_one_request_id(api: Api) -> None:
    user = api.sign_in()
    rid = str(uuid.uuid4())
    body = {"displayName": "Ladakh", "kind": "TRIP"}

    def create(_: int) -> tuple[int, str]:
        with httpx.Client(base_url=api.stack.rest_url, timeout=30) as client:
            resp = client.post(f"/v1/groups?requestId={rid}", json=body, headers=user.headers)
            return resp.status_code, resp.json().get("name", resp.text)

    with ThreadPoolExecutor(max_workers=32) as pool:
        results = list(pool.map(create, range(64)))
    statuses = {status for status, _ in results}
    names = {name for _, name in results}
    assert statuses == {200}, results[:3]
    assert len(names) == 1
    listed = api.call("GET", "/v1/groups", user).json()["groups"]
    assert [g["name"] for g in listed] == list(names)
