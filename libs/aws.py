"""AWS clients and resource names, plus the bootstrap that creates those resources in an emulator.

Every piece of AWS the code touches is named by an environment variable (the
Helm chart's ``config.extraEnv`` in AWS, the local stack on a laptop), and every
client goes to ``AWS_ENDPOINT_URL`` when it is set. ``bootstrap`` creates the
same shape in the emulator that the infrastructure creates in AWS, so it is
also the written record of what production must provide:

- one SNS topic for domain events (``HISAAB_EVENTS_TOPIC_ARN``), fanned out to
- the notification SQS queue (``HISAAB_NOTIFICATION_QUEUE_URL``), subscribed
  with raw message delivery, with a dead-letter queue after
  ``MAX_RECEIVES`` receives;
- the jobs SQS queue (``HISAAB_JOBS_QUEUE_URL``) that EventBridge Scheduler
  (locally ``libs.jobs.scheduler``) drops job messages on, with its own DLQ;
- the receipt scans SQS queue (``HISAAB_SCANS_QUEUE_URL``), subscribed to the
  events topic for ``receipt_scan.requested`` only, with its own DLQ;
- the activity SQS queue (``HISAAB_ACTIVITY_QUEUE_URL``), subscribed to the
  events topic for the settlement, member and group events of ``ACTIVITY_EVENTS``
  (expense-service's activity worker turns them into feed entries), with its own DLQ;
- the group SQS queue (``HISAAB_GROUP_QUEUE_URL``), subscribed to the events topic
  for the profile changes of ``GROUP_EVENTS`` (group-service's group worker writes
  the person's member rows again for the change feed), with its own DLQ;
- S3 buckets for receipts, exports and analytics;
- SNS platform applications for push (FCM, APNs) and an SES sender identity.

boto3 is synchronous: async callers wrap calls in ``asyncio.to_thread``.
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

import boto3
from botocore.config import Config

from libs.settings import env_var

# Receives before SQS moves a message to the queue's dead-letter queue.
MAX_RECEIVES = 5
# Long enough for one event's fan-out; a handler that crashes is retried after this.
VISIBILITY_TIMEOUT_SECONDS = 30
DLQ_RETENTION_SECONDS = 14 * 24 * 3600
# The outbox event the receipt scan worker's queue is subscribed to.
SCAN_REQUESTED = "receipt_scan.requested"
# The events of other services that the group activity feed shows (expense changes are
# written to the feed in expense-service's own transactions).
ACTIVITY_EVENTS = (
    "settlement.recorded",
    "settlement.deleted",
    "settlement.restored",
    "member.added",
    "member.joined",
    "member.left",
    "member.removed",
    "group.created",
    "group.updated",
)
# The profile changes other members see (display name; an invited member's first sign-in):
# group-service's worker hands the person's member rows and friend ledgers out again.
GROUP_EVENTS = (
    "user.updated",
    "user.activated",
)

_CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 3},
    connect_timeout=5,
    # Above the 20 s SQS long poll, so a poll never times out client-side.
    read_timeout=30,
    max_pool_connections=20,
)


def region() -> str:
    return env_var("AWS_REGION", env_var("AWS_DEFAULT_REGION", "ap-south-1"))


def endpoint_url() -> str | None:
    return env_var("AWS_ENDPOINT_URL") or None


def make_client(
    service: str, *, endpoint: str | None, region_name: str, credentials: Mapping[str, str] | None = None
) -> Any:
    """``credentials``: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY for a process whose environment lacks them."""
    creds = dict(credentials or {})
    session = boto3.session.Session(
        aws_access_key_id=creds.get("AWS_ACCESS_KEY_ID"),
        aws_secret_access_key=creds.get("AWS_SECRET_ACCESS_KEY"),
    )
    return session.client(  # type: ignore[call-overload]
        service, region_name=region_name, endpoint_url=endpoint, config=_CLIENT_CONFIG
    )


@functools.cache
def client(service: str) -> Any:
    """One client per service and process, configured from the environment.

    boto3 clients are thread-safe (sessions are not), so ``asyncio.to_thread`` callers share it.
    """
    return make_client(service, endpoint=endpoint_url(), region_name=region())


@dataclass(frozen=True)
class Resources:
    """The names of everything in AWS, each from its environment variable."""

    events_topic_arn: str = ""
    notification_queue_url: str = ""
    jobs_queue_url: str = ""
    scans_queue_url: str = ""
    activity_queue_url: str = ""
    group_queue_url: str = ""
    receipts_bucket: str = ""
    exports_bucket: str = ""
    analytics_bucket: str = ""
    push_android_app_arn: str = ""
    push_ios_app_arn: str = ""
    email_sender: str = ""
    scheduler_role_arn: str = ""

    @staticmethod
    def variable(field_name: str) -> str:
        return f"HISAAB_{field_name.upper()}"

    @classmethod
    def from_env(cls) -> Resources:
        return cls(**{f.name: env_var(cls.variable(f.name)) for f in fields(cls)})

    def env(self) -> dict[str, str]:
        return {self.variable(k): v for k, v in asdict(self).items() if v}

    def require(self, *names: str) -> None:
        missing = [self.variable(n) for n in names if not getattr(self, n)]
        if missing:
            raise RuntimeError(f"missing AWS configuration: {', '.join(missing)}")


def _queue_with_dlq(sqs: Any, name: str) -> tuple[str, str]:
    """(url, arn) of a queue whose poison messages move to ``<name>-dlq`` after MAX_RECEIVES."""
    dlq_url = sqs.create_queue(
        QueueName=f"{name}-dlq", Attributes={"MessageRetentionPeriod": str(DLQ_RETENTION_SECONDS)}
    )["QueueUrl"]
    dlq_arn = _queue_arn(sqs, dlq_url)
    url = sqs.create_queue(
        QueueName=name,
        Attributes={
            "VisibilityTimeout": str(VISIBILITY_TIMEOUT_SECONDS),
            "ReceiveMessageWaitTimeSeconds": "20",
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVES)}
            ),
        },
    )["QueueUrl"]
    return url, _queue_arn(sqs, url)


def _queue_arn(sqs: Any, url: str) -> str:
    return str(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])


def _allow_topic(sqs: Any, queue_url: str, queue_arn: str, topic_arn: str) -> None:
    """The queue policy SNS needs to deliver (the emulator does not check it; AWS does)."""
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
            }
        ],
    }
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps(policy)})


def _subscribed_queue(
    sqs: Any, sns: Any, name: str, topic_arn: str, *, events: list[str] | None = None
) -> str:
    """A queue with its DLQ that receives the topic's events (only ``events``, when given);
    returns its URL. Raw delivery: the queue body is the event JSON the relay published and
    the SNS message attributes arrive as SQS message attributes; no envelope to unwrap."""
    url, arn = _queue_with_dlq(sqs, name)
    _allow_topic(sqs, url, arn, topic_arn)
    attributes = {"RawMessageDelivery": "true"}
    if events is not None:
        attributes["FilterPolicy"] = json.dumps({"event_type": events})
    sns.subscribe(
        TopicArn=topic_arn, Protocol="sqs", Endpoint=arn, Attributes=attributes, ReturnSubscriptionArn=True
    )
    return url


def dlq_url(queue_url: str, sqs: Any | None = None) -> str:
    """The dead-letter queue of ``queue_url``, from its redrive policy."""
    sqs = sqs or client("sqs")
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"])["Attributes"]
    target_arn = json.loads(attributes["RedrivePolicy"])["deadLetterTargetArn"]
    return str(sqs.get_queue_url(QueueName=target_arn.rsplit(":", 1)[-1])["QueueUrl"])


def bootstrap(
    prefix: str = "hisaab",
    *,
    endpoint: str | None = None,
    region_name: str | None = None,
    credentials: Mapping[str, str] | None = None,
    email_sender: str = "no-reply@hisaab.app",
) -> Resources:
    """Create (idempotently) every AWS resource the services use; returns their names.

    ``endpoint``/``region_name`` default to the environment (the local stack passes its emulator).
    """
    where = region_name or region()
    sns, sqs, s3, ses = (
        make_client(name, endpoint=endpoint or endpoint_url(), region_name=where, credentials=credentials)
        for name in ("sns", "sqs", "s3", "ses")
    )
    topic_arn = sns.create_topic(Name=f"{prefix}-events")["TopicArn"]
    notification_url = _subscribed_queue(sqs, sns, f"{prefix}-notification", topic_arn)
    jobs_url, _ = _queue_with_dlq(sqs, f"{prefix}-jobs")
    scans_url = _subscribed_queue(sqs, sns, f"{prefix}-scans", topic_arn, events=[SCAN_REQUESTED])
    activity_url = _subscribed_queue(sqs, sns, f"{prefix}-activity", topic_arn, events=list(ACTIVITY_EVENTS))
    group_url = _subscribed_queue(sqs, sns, f"{prefix}-group", topic_arn, events=list(GROUP_EVENTS))
    buckets = {kind: f"{prefix}-{kind}" for kind in ("receipts", "exports", "analytics")}
    for bucket in buckets.values():
        create: dict[str, Any] = {"Bucket": bucket}
        if where != "us-east-1":
            create["CreateBucketConfiguration"] = {"LocationConstraint": where}
        with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
            s3.create_bucket(**create)
    # Credentials are placeholders here; in AWS they are the FCM key and the APNs certificate.
    android = sns.create_platform_application(
        Name=f"{prefix}-android", Platform="GCM", Attributes={"PlatformCredential": "emulator"}
    )["PlatformApplicationArn"]
    ios = sns.create_platform_application(
        Name=f"{prefix}-ios",
        Platform="APNS",
        Attributes={"PlatformCredential": "emulator", "PlatformPrincipal": "emulator"},
    )["PlatformApplicationArn"]
    ses.verify_email_identity(EmailAddress=email_sender)
    return Resources(
        events_topic_arn=topic_arn,
        notification_queue_url=notification_url,
        jobs_queue_url=jobs_url,
        scans_queue_url=scans_url,
        activity_queue_url=activity_url,
        group_queue_url=group_url,
        receipts_bucket=buckets["receipts"],
        exports_bucket=buckets["exports"],
        analytics_bucket=buckets["analytics"],
        push_android_app_arn=android,
        push_ios_app_arn=ios,
        email_sender=email_sender,
        scheduler_role_arn="",
    )


__all__ = [
    "ACTIVITY_EVENTS",
    "GROUP_EVENTS",
    "MAX_RECEIVES",
    "Resources",
    "bootstrap",
    "client",
    "dlq_url",
    "endpoint_url",
    "make_client",
    "region",
]
