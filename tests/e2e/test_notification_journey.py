"""Notifications end to end: REST change → outbox → relay → SNS → SQS → worker → inbox and delivery.

Runs on the whole local stack (the relay and the notification worker are
started by it), against the AWS emulator, PostgreSQL and Valkey.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from libs import aws
from tests.support import Api, Session
from tools.devstack.stack import Stack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module", autouse=True)
def _quiet_queues(stack: Stack) -> None:
    """Events queued by earlier tests are worked through first, so that the deadlines
    below measure this module's deliveries, not a backlog in the AWS emulator."""

    def quiet() -> bool:
        with psycopg.connect(stack.database_url) as conn:
            row = conn.execute("SELECT count(*) FROM kit.outbox WHERE published_at IS NULL").fetchone()
        return row is not None and row[0] == 0 and _queue_empty(stack)

    _eventually(quiet, timeout=300.0)


def _sqs(stack: Stack) -> Any:
    assert stack.aws is not None
    return aws.make_client(
        "sqs",
        endpoint=stack.aws.endpoint_url,
        region_name=stack.aws.env["AWS_REGION"],
        credentials=stack.aws.env,
    )


def _queue_empty(stack: Stack) -> bool:
    """No message waiting and none being worked on in the notification queue."""
    counts: dict[str, str] = _sqs(stack).get_queue_attributes(
        QueueUrl=stack.resources.notification_queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return (
        counts["ApproximateNumberOfMessages"] == "0"
        and counts["ApproximateNumberOfMessagesNotVisible"] == "0"
    )


def _eventually(check: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.2)


def _inbox(api: Api, who: Session, **params: str) -> list[dict[str, Any]]:
    resp = api.call("GET", "/v1/users/me/notifications", who, params=params)
    assert resp.status_code == 200, resp.text
    return list(resp.json().get("notifications", []))


def _unread(api: Api, who: Session) -> int:
    return int(api.call("GET", "/v1/users/me/notifications:unreadCount", who).json().get("unreadCount", 0))


def _group_with(api: Api, owner: Session, *others: Session) -> str:
    group = api.call("POST", "/v1/groups", owner, json={"displayName": "Flat 4B", "kind": "HOME"}).json()[
        "name"
    ]
    for person in others:
        added = api.call("POST", f"/v1/{group}/members", owner, json={"phoneNumber": person.phone})
        assert added.status_code == 200, added.text
    return str(group)


def _deliveries(stack: Stack, user_id: str) -> list[tuple[str, str, str]]:
    with psycopg.connect(stack.database_url) as conn:
        rows = conn.execute(
            "SELECT channel, status, provider_id FROM notification.deliveries WHERE user_id = %s", (user_id,)
        ).fetchall()
    return [(r[0], r[1], r[2]) for r in rows]


def test_added_member_hears_about_it_in_their_language_and_by_push(api: Api, stack: Stack) -> None:
    asha, ravi = api.sign_in(), api.sign_in()
    device = api.call(
        "POST", "/v1/users/me/devices", ravi, json={"platform": "ANDROID", "pushToken": f"fcm-{uuid.uuid4()}"}
    )
    assert device.status_code == 200, device.text
    assert (
        api.call(
            "PATCH",
            "/v1/users/me",
            ravi,
            json={"locale": "hi-IN", "displayName": "Ravi"},
            params={"updateMask": "locale,displayName"},
        ).status_code
        == 200
    )
    assert (
        api.call(
            "PATCH", "/v1/users/me", asha, json={"displayName": "Asha"}, params={"updateMask": "displayName"}
        ).status_code
        == 200
    )

    group = _group_with(api, asha, ravi)

    found = _eventually(lambda: _inbox(api, ravi))
    assert len(found) == 1
    note = found[0]
    assert note["eventType"] == "ADDED_TO_GROUP"
    assert note["group"] == group and note["actor"] == f"users/{asha.user_id}"
    assert note["actorDisplayName"] == "Asha"  # the row needs no second call to label the actor
    assert note["title"] == "समूह में जोड़ा गया" and "Asha" in note["body"]  # Hindi, by Ravi's locale
    assert note["deepLink"].startswith("hisaab://groups/")
    assert _inbox(api, asha) == []  # never the actor

    # Push through an SNS platform endpoint, sent by the delivery loop after the inbox row.
    sent = _eventually(lambda: [d for d in _deliveries(stack, ravi.user_id) if d[1] == "sent"])
    assert sent[0][0] == "PUSH" and sent[0][2]

    # Unread badge and mark read.
    assert _unread(api, ravi) == 1
    marked = api.call(
        "POST", "/v1/users/me/notifications:markRead", ravi, json={"names": [note["name"]]}
    ).json()
    assert marked == {"markedCount": 1} or (marked["markedCount"] == 1 and marked.get("unreadCount", 0) == 0)
    assert _unread(api, ravi) == 0
    assert _inbox(api, ravi, unreadOnly="true") == []


def test_expense_reaches_every_other_member_but_not_the_actor(api: Api, stack: Stack) -> None:
    asha, ravi, meera = api.sign_in(), api.sign_in(), api.sign_in()
    group = _group_with(api, asha, ravi, meera)
    body = {
        "description": "Groceries",
        "category": "GROCERIES",
        "transactionDate": {"year": 2024, "month": 5, "day": 1},
        "total": {"currencyCode": "INR", "amountMinor": "90000"},
        "payers": [{"user": f"users/{asha.user_id}", "paidMinor": "90000"}],
        "split": {"equal": {"participants": [f"users/{p.user_id}" for p in (asha, ravi, meera)]}},
    }
    created = api.call("POST", f"/v1/{group}/expenses", asha, json=body)
    if created.status_code == 501:
        pytest.fail("expense-service does not create expenses yet")
    assert created.status_code == 200, created.text

    for person in (ravi, meera):
        expense_notes = _eventually(
            lambda p=person: [n for n in _inbox(api, p) if n["eventType"] == "EXPENSE_ADDED"]  # type: ignore[misc]
        )
        assert len(expense_notes) == 1
        # Written as the activity feed writes it: one formatter, the recipient's locale (en-IN here).
        assert "₹900.00" in expense_notes[0]["body"]
        assert expense_notes[0]["deepLink"] == f"hisaab://{created.json()['name']}"
    # The worker writes an event's whole inbox in the transaction that marks it handled.
    _eventually(lambda: _all_handled(stack, asha.user_id, "expense.created"))
    assert [n for n in _inbox(api, asha) if n["eventType"] == "EXPENSE_ADDED"] == []


def test_preferences_round_trip_and_mute(api: Api) -> None:
    asha, ravi = api.sign_in(), api.sign_in()
    prefs = api.call("GET", "/v1/users/me/notificationPreferences", ravi).json()
    assert prefs["reminderHour"] == 19 and prefs["timeZone"] == "Asia/Kolkata"
    switches = {(s["eventType"], s["channel"]): s.get("enabled", False) for s in prefs["channelSettings"]}
    assert switches[("ADDED_TO_GROUP", "IN_APP")] is True and switches[("ADDED_TO_GROUP", "SMS")] is False

    # In-app cannot be muted except for reminders and digests.
    refused = api.call(
        "PATCH",
        "/v1/users/me/notificationPreferences",
        ravi,
        json={"channelSettings": [{"eventType": "ADDED_TO_GROUP", "channel": "IN_APP", "enabled": False}]},
        params={"updateMask": "channelSettings"},
    )
    assert refused.status_code == 400, refused.text

    changed = api.call(
        "PATCH",
        "/v1/users/me/notificationPreferences",
        ravi,
        json={
            "channelSettings": [
                {"eventType": "ADDED_TO_GROUP", "channel": "SMS", "enabled": True},
                {"eventType": "BALANCE_REMINDER", "channel": "IN_APP", "enabled": False},
            ],
            "reminderHour": 8,
            "etag": prefs["etag"],
        },
        params={"updateMask": "channelSettings,reminderHour"},
    )
    assert changed.status_code == 200, changed.text
    after = {
        (s["eventType"], s["channel"]): s.get("enabled", False) for s in changed.json()["channelSettings"]
    }
    assert after[("ADDED_TO_GROUP", "SMS")] is True and after[("BALANCE_REMINDER", "IN_APP")] is False
    assert changed.json()["reminderHour"] == 8 and changed.json()["etag"] != prefs["etag"]
    stale = api.call(
        "PATCH",
        "/v1/users/me/notificationPreferences",
        ravi,
        json={"reminderHour": 9, "etag": prefs["etag"]},
        params={"updateMask": "reminderHour"},
    )
    assert stale.status_code == 409

    # SMS now on for ADDED_TO_GROUP: being added sends one through SNS to Ravi's phone.
    _group_with(api, asha, ravi)
    _eventually(lambda: _inbox(api, ravi))


def test_internal_methods_refuse_app_users(api: Api, stack: Stack) -> None:
    import grpc
    from hisaab.notification.v1 import notification_pb2, notification_pb2_grpc

    user = api.sign_in()
    with grpc.insecure_channel(stack.address("notification")) as channel:
        stub = notification_pb2_grpc.NotificationServiceStub(channel)
        with pytest.raises(grpc.RpcError) as err:
            stub.HandleEvent(
                notification_pb2.HandleEventRequest(event_id="x", event_type=notification_pb2.EXPENSE_ADDED),
                metadata=(("authorization", f"Bearer {user.access_token}"),),
            )
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_redelivered_event_has_no_second_effect(api: Api, stack: Stack) -> None:
    asha, ravi = api.sign_in(), api.sign_in()
    _group_with(api, asha, ravi)
    _eventually(lambda: _inbox(api, ravi))
    # Publish the very same outbox rows again, as a relay killed before marking them would.
    with psycopg.connect(stack.database_url) as conn:
        conn.execute("UPDATE kit.outbox SET published_at = NULL WHERE actor = %s", (asha.user_id,))
        conn.commit()
    _eventually(lambda: _outbox_drained(stack, asha.user_id))
    # Published means queued (SNS delivers to SQS as it accepts); an empty queue then
    # means the worker has taken the duplicates and deleted them.
    _eventually(lambda: _queue_empty(stack), timeout=120.0)
    assert len(_inbox(api, ravi)) == 1


def _all_handled(stack: Stack, actor: str, event_type: str) -> bool:
    with psycopg.connect(stack.database_url) as conn:
        row = conn.execute(
            "SELECT count(*) FILTER (WHERE p.event_id IS NULL), count(*) FROM kit.outbox o "
            "LEFT JOIN notification.processed_events p ON p.event_id = o.id::text "
            "WHERE o.actor = %s AND o.event_type = %s",
            (actor, event_type),
        ).fetchone()
    return row is not None and row[1] > 0 and row[0] == 0


def _outbox_drained(stack: Stack, actor: str) -> bool:
    with psycopg.connect(stack.database_url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM kit.outbox WHERE actor = %s AND published_at IS NULL", (actor,)
        ).fetchone()
    return row is not None and row[0] == 0


def test_stack_created_the_aws_resources(stack: Stack) -> None:
    r = stack.resources
    sqs = _sqs(stack)
    for url in (r.notification_queue_url, r.jobs_queue_url):
        assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])["Attributes"][
            "RedrivePolicy"
        ]
    assert r.receipts_bucket and r.exports_bucket and r.events_topic_arn


@pytest.mark.parametrize(
    "job",
    [
        "generate_recurring_expenses",
        "expire_entitlements",
        "purge_old_notifications",
        "refresh_exchange_rates",
    ],
)
def test_job_messages_run_once_through_the_owning_service(stack: Stack, job: str) -> None:
    from datetime import UTC, datetime, timedelta

    from libs.jobs.messages import JobMessage

    sqs = _sqs(stack)
    # A slot far in the past, unique per run, so the local scheduler's own slots never collide.
    slot = datetime(2001, 1, 1, tzinfo=UTC) + timedelta(minutes=uuid.uuid4().int % 10**6)
    body = JobMessage(job, slot).body()
    for _ in range(2):  # a duplicate message: the second run is a no-op
        sqs.send_message(QueueUrl=stack.resources.jobs_queue_url, MessageBody=body)

    def completed() -> list[tuple[Any, ...]]:
        with psycopg.connect(stack.database_url) as conn:
            return conn.execute(
                "SELECT completed_at, result FROM notification.job_runs WHERE job = %s AND period_start = %s",
                (job, slot),
            ).fetchall()

    rows = _eventually(lambda: [r for r in completed() if r[0] is not None])
    assert len(rows) == 1
