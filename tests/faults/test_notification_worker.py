"""The notification worker while its AWS endpoint fails: queued events wait and are all
handled once it answers, deliveries are retried with doubling waits, and a delivery that
keeps failing is given up (kept as ``failed`` with its error), never dropped."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any, TypeVar

import psycopg
import pytest

from libs.retry import backoff
from services.notification import domain
from tests.faults.aws_proxy import FailingAwsProxy, everything, sns_send
from tests.faults.control import restart_worker, service_process
from tests.support import Api, Session
from tools.devstack.stack import Stack

pytestmark = pytest.mark.faults

WORKER = "notification-worker"
FIRST_RETRY_SECONDS = 0.5
T = TypeVar("T")


@pytest.fixture
def failing_aws(fault_stack: Stack) -> Iterator[FailingAwsProxy]:
    """The stack's notification worker swapped for one that reaches AWS through the proxy
    (and retries deliveries from half a second, so giving up takes seconds, not minutes)."""
    assert fault_stack.aws is not None
    with FailingAwsProxy(fault_stack.aws.endpoint_url) as proxy:
        service_process(fault_stack, WORKER).stop(grace=15)
        restart_worker(
            fault_stack,
            WORKER,
            {
                "AWS_ENDPOINT_URL": proxy.url,
                "HISAAB_DELIVERY_RETRY_BASE_SECONDS": str(FIRST_RETRY_SECONDS),
                "HISAAB_QUEUE_WAIT_SECONDS": "1",
            },
        )
        try:
            yield proxy
        finally:
            proxy.heal()
            service_process(fault_stack, WORKER).stop(grace=15)
            restart_worker(fault_stack, WORKER)


def _eventually(probe: Callable[[], T | None], seconds: float = 60.0) -> T:
    deadline = time.monotonic() + seconds
    while True:
        found = probe()
        if found:
            return found
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.2)


def _deliveries(stack: Stack, user_id: str) -> list[dict[str, Any]]:
    with psycopg.connect(stack.database_url) as conn:
        cur = conn.execute(
            "SELECT channel, status, attempts, last_error FROM notification.deliveries "
            "WHERE user_id = %s AND channel = 'PUSH'",
            (user_id,),
        )
        names = [c.name for c in cur.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _with(stack: Stack, person: Session, *, status: str, attempts: int) -> list[dict[str, Any]]:
    """``person``'s push deliveries in ``status`` after at least ``attempts`` attempts."""
    return [
        d for d in _deliveries(stack, person.user_id) if d["status"] == status and d["attempts"] >= attempts
    ]


def _pushes_settled(api: Api, stack: Stack, person: Session, *, failed: int = 0) -> bool:
    """One push per in-app notification, each sent or (``failed`` of them) given up."""
    notifications = len(_inbox(api, person))
    statuses = sorted(d["status"] for d in _deliveries(stack, person.user_id))
    return statuses == sorted(["sent"] * (notifications - failed) + ["failed"] * failed)


def _inbox(api: Api, session: Session) -> list[dict[str, Any]]:
    listed = api.call("GET", "/v1/users/me/notifications", session)
    assert listed.status_code == 200, listed.text
    return list(listed.json().get("notifications", []))


def _with_device(api: Api) -> Session:
    person = api.sign_in()
    device = api.call(
        "POST",
        "/v1/users/me/devices",
        person,
        json={"platform": "ANDROID", "pushToken": f"fcm-{uuid.uuid4()}"},
    )
    assert device.status_code == 200, device.text
    return person


def _add_to_new_group(api: Api, owner: Session, *people: Session) -> None:
    made = api.call("POST", "/v1/groups", owner, json={"displayName": "Faults", "kind": "OTHER"})
    assert made.status_code == 200, made.text
    for person in people:
        added = api.call(
            "POST", f"/v1/{made.json()['name']}/members", owner, json={"phoneNumber": person.phone}
        )
        assert added.status_code == 200, added.text


@pytest.mark.timeout(240)
def test_aws_outage_delays_notifications_and_loses_none(
    fault_stack: Stack, fault_api: Api, failing_aws: FailingAwsProxy
) -> None:
    owner = fault_api.sign_in()
    friends = [_with_device(fault_api) for _ in range(3)]

    # The whole endpoint down while events arrive: the worker cannot even poll the queue.
    failing_aws.fail(everything)
    _add_to_new_group(fault_api, owner, *friends)
    polls = len(failing_aws.failed)
    _eventually(lambda: len(failing_aws.failed) >= polls + 3)  # it keeps trying
    failing_aws.heal()
    for friend in friends:
        inbox = _eventually(partial(_inbox, fault_api, friend))
        assert [n["eventType"] for n in inbox].count("ADDED_TO_GROUP") == 1
    for friend in friends:  # and every push went out, once each
        _eventually(partial(_pushes_settled, fault_api, fault_stack, friend))

    # Sends failing for a while: the delivery is retried, and goes out once AWS answers.
    first, second = friends[0], friends[1]
    failing_aws.fail(sns_send)
    _add_to_new_group(fault_api, owner, first)
    _eventually(lambda: _with(fault_stack, first, status="pending", attempts=2))
    failing_aws.heal()
    _eventually(lambda: _with(fault_stack, first, status="sent", attempts=3))
    _eventually(partial(_pushes_settled, fault_api, fault_stack, first))

    # Sends failing for longer than the retries last: given up after the last attempt, kept
    # with its error; the waits between attempts doubled.
    failing_aws.failed.clear()
    failing_aws.fail(sns_send)
    _add_to_new_group(fault_api, owner, second)
    given_up = _eventually(lambda: _with(fault_stack, second, status="failed", attempts=1), seconds=120)
    assert len(given_up) == 1
    assert given_up[0]["attempts"] == domain.MAX_DELIVERY_ATTEMPTS
    assert "ServiceUnavailable" in given_up[0]["last_error"]
    waits = sum(backoff(n, FIRST_RETRY_SECONDS, 3600) for n in range(1, domain.MAX_DELIVERY_ATTEMPTS))
    span = failing_aws.failed[-1][0] - failing_aws.failed[0][0]
    assert span >= waits * 0.9, (span, waits)
    # The in-app notification never depended on AWS, and every push is accounted for.
    assert [n["eventType"] for n in _inbox(fault_api, second)].count("ADDED_TO_GROUP") == 2
    assert _pushes_settled(fault_api, fault_stack, second, failed=1)
