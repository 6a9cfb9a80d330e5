"""Redis key names shared by the gate (readers) and pricing-service (invalidator).

Both sides must agree on them, so they live in one place. The version segment
lets a change of the cached format roll out without reading old entries.
"""

from __future__ import annotations

from datetime import datetime

PREFIX = "hisaab:features:v1"


def entitlements(user_id: str) -> str:
    return f"{PREFIX}:ent:{user_id}"


def quota_counter(user_id: str, quota_key: str, window_start: datetime) -> str:
    # The window start is part of the key: a new period starts a new counter,
    # and the old one simply expires.
    return f"{PREFIX}:quota:{quota_key}:{user_id}:{int(window_start.timestamp())}"
