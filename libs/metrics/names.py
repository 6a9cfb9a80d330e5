"""The exported metric names and the attributes that become CloudWatch dimensions.

Plain constants, no imports: the CDK app's alarms (infra/stacks/observability.py) and the
collector's EMF rules (k8s/observability/adot-collector.yaml) are checked against them.
docs/observability.md describes each one.
"""

from __future__ import annotations

NAMESPACE = "Hisaab"  # CloudWatch namespace the collector's EMF exporter writes to
SERVICE = "service.name"  # resource attribute: hisaab-<process>

RPC_DURATION = "rpc.server.duration"
RPC_ACTIVE = "rpc.server.active_requests"
DB_CONNECTIONS = "db.client.connection.count"
DB_CONNECTIONS_MAX = "db.client.connection.max"
CACHE_REQUESTS = "hisaab.cache.requests"
OUTBOX_BACKLOG = "hisaab.outbox.backlog"
OUTBOX_OLDEST_AGE = "hisaab.outbox.oldest_age"
OUTBOX_PUBLISHED = "hisaab.outbox.published"
QUEUE_MESSAGES = "messaging.process.messages"
QUEUE_LAG = "messaging.process.lag"
QUEUE_PROCESS_DURATION = "messaging.process.duration"
EXPENSES_CREATED = "hisaab.expenses.created"
SETTLEMENTS_RECORDED = "hisaab.settlements.recorded"
OTPS_SENT = "hisaab.otp.sent"

QUEUE = "messaging.destination.name"

# The process that relays the outbox, and each queue consumer as (process, queue): the
# alarms watch these series.
OUTBOX_RELAY = "hisaab-outbox-relay"
QUEUE_CONSUMERS = (
    ("hisaab-notification-worker", "events"),
    ("hisaab-notification-worker", "jobs"),
    ("hisaab-scan-worker", "scans"),
    ("hisaab-activity-worker", "activity"),
    ("hisaab-group-worker", "group"),
)

EXPORTED = (
    RPC_DURATION,
    RPC_ACTIVE,
    DB_CONNECTIONS,
    DB_CONNECTIONS_MAX,
    CACHE_REQUESTS,
    OUTBOX_BACKLOG,
    OUTBOX_OLDEST_AGE,
    OUTBOX_PUBLISHED,
    QUEUE_MESSAGES,
    QUEUE_LAG,
    QUEUE_PROCESS_DURATION,
    EXPENSES_CREATED,
    SETTLEMENTS_RECORDED,
    OTPS_SENT,
)
