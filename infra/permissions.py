"""Which AWS calls each workload's code makes, and the IAM actions they need.

``CALLS`` is the one declared table: tests/infra/test_permissions.py scans the
code each workload runs for boto3 calls and fails on any call missing here or
any entry here the code no longer makes. The cluster stack turns the table
into one Pod Identity role per workload, so a role allows exactly what its
code calls, on the resources named here.
"""

from __future__ import annotations

from dataclasses import dataclass

from libs.catalog import SERVICES, WORKERS


@dataclass(frozen=True)
class Call:
    service: str  # boto3 client name
    operation: str  # boto3 method (generate_presigned_* for pre-signed links)
    resource: str  # a key of the resources the stacks grant on (see infra/stacks/cluster.py)


# Logical resources a call may touch. "sms" and "push_endpoints" cannot be
# narrowed by ARN: SNS sends SMS to phone numbers and push to endpoints it
# creates at run time.
RESOURCES = (
    "user_pool",
    "receipts_bucket",
    "exports_bucket",
    "analytics_bucket",
    "events_topic",
    "notification_queue",
    "jobs_queue",
    "scans_queue",
    "activity_queue",
    "group_queue",
    "textract",
    "push_apps",
    "push_endpoints",
    "sms",
    "email_identity",
)

_NOTIFICATION_JOBS = frozenset({Call("s3", "put_object", "analytics_bucket")})

CALLS: dict[str, frozenset[Call]] = {
    "auth": frozenset(
        {
            Call("cognito-idp", "admin_get_user", "user_pool"),
            Call("cognito-idp", "admin_create_user", "user_pool"),
            Call("cognito-idp", "initiate_auth", "user_pool"),
            Call("cognito-idp", "respond_to_auth_challenge", "user_pool"),
            Call("cognito-idp", "revoke_token", "user_pool"),
        }
    ),
    "group": frozenset(),
    "expense": frozenset(
        {
            Call("s3", "generate_presigned_post", "receipts_bucket"),
            Call("s3", "head_object", "receipts_bucket"),
            Call("s3", "generate_presigned_url", "receipts_bucket"),
            Call("s3", "generate_presigned_url", "exports_bucket"),
            Call("s3", "put_object", "exports_bucket"),
        }
    ),
    "settlement": frozenset(),
    "pricing": frozenset(),
    # The service registers the analytics export job; the worker runs it.
    "notification": _NOTIFICATION_JOBS,
    "outbox-relay": frozenset({Call("sns", "publish_batch", "events_topic")}),
    "notification-worker": _NOTIFICATION_JOBS
    | {
        Call("sqs", "receive_message", "notification_queue"),
        Call("sqs", "receive_message", "jobs_queue"),
        Call("sqs", "change_message_visibility", "notification_queue"),
        Call("sqs", "change_message_visibility", "jobs_queue"),
        Call("sqs", "delete_message", "notification_queue"),
        Call("sqs", "delete_message", "jobs_queue"),
        Call("sns", "publish", "sms"),
        Call("sns", "publish", "push_endpoints"),
        Call("sns", "create_platform_endpoint", "push_apps"),
        Call("ses", "send_email", "email_identity"),
    },
    "scan-worker": frozenset(
        {
            Call("sqs", "receive_message", "scans_queue"),
            Call("sqs", "change_message_visibility", "scans_queue"),
            Call("sqs", "delete_message", "scans_queue"),
            Call("s3", "get_object", "receipts_bucket"),
            Call("textract", "analyze_expense", "textract"),
        }
    ),
    "activity-worker": frozenset(
        {
            Call("sqs", "receive_message", "activity_queue"),
            Call("sqs", "change_message_visibility", "activity_queue"),
            Call("sqs", "delete_message", "activity_queue"),
        }
    ),
    "group-worker": frozenset(
        {
            Call("sqs", "receive_message", "group_queue"),
            Call("sqs", "change_message_visibility", "group_queue"),
            Call("sqs", "delete_message", "group_queue"),
        }
    ),
    "migrations": frozenset(),
}

# Entry modules of each workload: the code its pod runs (imports are followed from here).
ENTRY_MODULES: dict[str, tuple[str, ...]] = {
    **{s.name: (f"services.{s.name}.__main__",) for s in SERVICES},
    **{w.name: (w.module,) for w in WORKERS if not w.local_only},
    "migrations": ("libs.db.migrate",),
}

# Calls that need no IAM permission: Cognito's public sign-in API is authorised
# by the app client and the user's tokens, not by the caller's IAM identity.
_UNAUTHENTICATED = frozenset(
    {
        ("cognito-idp", "initiate_auth"),
        ("cognito-idp", "respond_to_auth_challenge"),
        ("cognito-idp", "revoke_token"),
    }
)
# boto3 methods whose IAM action is not the method's own name.
_ACTION_OF = {
    ("s3", "generate_presigned_post"): "s3:PutObject",
    ("s3", "generate_presigned_url"): "s3:GetObject",
    ("s3", "head_object"): "s3:GetObject",
    ("sns", "publish_batch"): "sns:Publish",
}


def iam_action(call: Call) -> str | None:
    """The IAM action ``call`` needs, or None for a call IAM does not authorise."""
    key = (call.service, call.operation)
    if key in _UNAUTHENTICATED:
        return None
    if key in _ACTION_OF:
        return _ACTION_OF[key]
    return f"{call.service}:{''.join(part.capitalize() for part in call.operation.split('_'))}"


def grants(workload: str) -> dict[str, frozenset[str]]:
    """resource -> IAM actions that ``workload`` needs on it."""
    out: dict[str, set[str]] = {}
    for call in CALLS[workload]:
        action = iam_action(call)
        if action is not None:
            out.setdefault(call.resource, set()).add(action)
    return {resource: frozenset(actions) for resource, actions in out.items()}


def service_account(workload: str) -> str:
    """The chart's ServiceAccount name of a workload (release ``hisaab``)."""
    return f"hisaab-{workload}"
