"""Domain events written in the same transaction as the change (relayed to SNS later)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection


async def record(
    conn: AsyncConnection, event_type: str, aggregate: str, payload: dict[str, Any], *, actor: str = ""
) -> str:
    event_id = str(uuid.uuid4())
    await conn.execute(
        text(
            "INSERT INTO kit.outbox (id, event_type, aggregate, actor, payload) "
            "VALUES (:id, :type, :agg, :actor, CAST(:payload AS jsonb))"
        ),
        {
            "id": event_id,
            "type": event_type,
            "agg": aggregate,
            "actor": actor,
            "payload": json.dumps(payload),
        },
    )
    return event_id
