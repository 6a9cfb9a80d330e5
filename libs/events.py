"""The domain event as it travels on SNS and SQS: the relay writes it, consumers parse it.

Kept apart from the relay so a consumer's code does not import the publisher
(tests/infra derives each workload's AWS permissions from the code it imports).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class EventMessage:
    """One domain event on the wire: the SNS message body (JSON) and its attributes."""

    id: str
    seq: int
    type: str
    aggregate: str
    actor: str
    payload: dict[str, Any]
    occurred_at: str  # ISO 8601, UTC

    def body(self) -> str:
        return json.dumps(
            {
                "id": self.id,
                "seq": self.seq,
                "type": self.type,
                "aggregate": self.aggregate,
                "actor": self.actor,
                "payload": self.payload,
                "occurred_at": self.occurred_at,
            },
            separators=(",", ":"),
        )

    def attributes(self) -> dict[str, dict[str, str]]:
        """Event type and ids, so subscriptions can filter without reading the body."""
        values = {
            "event_id": self.id,
            "event_type": self.type,
            "aggregate": self.aggregate,
            "actor": self.actor,
            "group": str(self.payload.get("group", "")),
        }
        # SNS rejects empty attribute values.
        return {k: {"DataType": "String", "StringValue": v} for k, v in values.items() if v}

    @classmethod
    def parse(cls, body: str) -> EventMessage:
        """Raises ValueError (or KeyError/TypeError) for anything that is not an event."""
        data = json.loads(body)
        if not isinstance(data, dict) or not isinstance(data.get("payload"), dict):
            raise ValueError("not an event message")
        return cls(
            id=str(data["id"]),
            seq=int(data["seq"]),
            type=str(data["type"]),
            aggregate=str(data["aggregate"]),
            actor=str(data.get("actor", "")),
            payload=data["payload"],
            occurred_at=str(data["occurred_at"]),
        )
