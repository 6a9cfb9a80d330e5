"""Domain events written in the same transaction as the change (relayed to SNS later).

An event is a message of the contract (``hisaab.events.v1``, see libs.events): the row
keeps its name and its JSON form, which the relay publishes as they are, and the trace
of the request that wrote it, which the relay's publish continues.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Protocol

from google.protobuf.message import Message
from sqlalchemy.ext.asyncio import AsyncConnection

from libs import events, telemetry
from libs.db import batch
from libs.db.batch import Statement


def record_statement(event: Message, aggregate: str, *, actor: str = "") -> Statement:
    """The event's insert, for a caller that sends it with its other statements (libs.db.batch)."""
    return Statement(
        "INSERT INTO kit.outbox (id, event_type, aggregate, actor, payload, traceparent) "
        "VALUES (%(id)s, %(type)s, %(agg)s, %(actor)s, %(payload)s::jsonb, %(traceparent)s)",
        {
            "id": str(uuid.uuid4()),
            "type": events.type_name(event),
            "agg": aggregate,
            "actor": actor,
            "payload": json.dumps(events.encode(event)),
            "traceparent": telemetry.traceparent(),
        },
    )


async def record(conn: AsyncConnection, event: Message, aggregate: str, *, actor: str = "") -> str:
    statement = record_statement(event, aggregate, actor=actor)
    await batch.run(conn, [statement])
    return str(statement.params["id"])


@dataclass(frozen=True)
class Recorded:
    event: Message
    aggregate: str
    actor: str


class Outbox(Protocol):
    """The outbox, inside the caller's unit of work: an event is kept only if it commits."""

    async def record(self, event: Message, aggregate: str, *, actor: str = "") -> None: ...


class SqlOutbox:
    """``kit.outbox`` on the unit of work's connection."""

    def __init__(self, conn: AsyncConnection):
        self._conn = conn

    async def record(self, event: Message, aggregate: str, *, actor: str = "") -> None:
        await record(self._conn, event, aggregate, actor=actor)


class MemoryOutbox:
    """The events a use case recorded, in order, for its tests to read."""

    def __init__(self) -> None:
        self.recorded: list[Recorded] = []

    async def record(self, event: Message, aggregate: str, *, actor: str = "") -> None:
        self.recorded.append(Recorded(event, aggregate, actor))

    def events(self) -> list[Message]:
        return [r.event for r in self.recorded]
