"""Domain events written in the same transaction as the change (relayed to SNS later)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from libs.db import batch
from libs.db.batch import Statement


def record_statement(
    event_type: str, aggregate: str, payload: dict[str, Any], *, actor: str = ""
) -> Statement:
    """The event's insert, for a caller that sends it with its other statements (libs.db.batch)."""
    return Statement(
        "INSERT INTO kit.outbox (id, event_type, aggregate, actor, payload) "
        "VALUES (%(id)s, %(type)s, %(agg)s, %(actor)s, %(payload)s::jsonb)",
        {
            "id": str(uuid.uuid4()),
            "type": event_type,
            "agg": aggregate,
            "actor": actor,
            "payload": json.dumps(payload),
        },
    )


async def record(
    conn: AsyncConnection, event_type: str, aggregate: str, payload: dict[str, Any], *, actor: str = ""
) -> str:
    statement = record_statement(event_type, aggregate, payload, actor=actor)
    await batch.run(conn, [statement])
    return str(statement.params["id"])
