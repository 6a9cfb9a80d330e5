"""Domain events of the contract (``hisaab.events.v1``): their names on the wire, and back.

An event is one typed message. Its name (``expense.updated``) is what the outbox's
``event_type`` column, the relay's envelope and the SNS ``event_type`` attribute that
subscriptions filter on carry; the message itself travels in its proto3 JSON form
with the proto field names, so a payload reads the same in the table and on the queue.

``EventMessage`` is the envelope the relay publishes and consumers parse. It lives here,
apart from the relay, so a consumer's code does not import the publisher (tests/infra
derives each workload's AWS permissions from the code it imports).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message
from hisaab.events.v1 import events_pb2 as ev

# Messages that are always the same event.
_FIXED: dict[type[Message], str] = {
    ev.ExpenseCommented: "expense.commented",
    ev.ReceiptAttached: "expense.receipt_attached",
    ev.ExportRequested: "export.requested",
    ev.ExportReady: "export.ready",
    ev.UserActivated: "user.activated",
    ev.UserUpdated: "user.updated",
    ev.PurchaseCompleted: "purchase.completed",
    ev.PurchaseRefunded: "purchase.refunded",
    ev.EntitlementsExpired: "entitlements.expired",
    ev.ReceiptScanRequested: "receipt_scan.requested",
    ev.ReceiptScanFinished: "receipt_scan.finished",
}
# Messages whose ``change`` field picks the event: "<prefix>.<change, lower case>".
_BY_CHANGE: dict[type[Message], str] = {
    ev.ExpenseChanged: "expense",
    ev.RecurringRuleChanged: "recurring_expense",
    ev.SettlementChanged: "settlement",
    ev.GroupChanged: "group",
    ev.MemberChanged: "member",
    ev.SplitPresetChanged: "split_preset",
}
# A payment is "recorded", the word the app and its notifications use.
_RENAMED = {"settlement.created": "settlement.recorded"}


def _changes(cls: type[Message]) -> dict[str, int]:
    kinds = cls.DESCRIPTOR.fields_by_name["change"].enum_type
    assert kinds is not None
    values = kinds.values
    return {f"{_BY_CHANGE[cls]}.{v.name.lower()}": v.number for v in values if v.number}


_BY_NAME: dict[str, type[Message]] = {
    **{name: cls for cls, name in _FIXED.items()},
    **{_RENAMED.get(name, name): cls for cls in _BY_CHANGE for name in _changes(cls)},
}


def type_name(message: Message) -> str:
    cls = type(message)
    if cls in _FIXED:
        return _FIXED[cls]
    change: int = getattr(message, "change")  # noqa: B009 - every _BY_CHANGE message has one
    for name, number in _changes(cls).items():
        if number == change:
            return _RENAMED.get(name, name)
    raise ValueError(f"{cls.__name__} needs a change kind")


def encode(message: Message) -> dict[str, Any]:
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


def decode(name: str, payload: Mapping[str, Any]) -> Message | None:
    """The typed message; None for an event this code does not know (a newer producer's)."""
    cls = _BY_NAME.get(name)
    if cls is None:
        return None
    return json_format.ParseDict(dict(payload), cls(), ignore_unknown_fields=True)


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
    # The trace headers (traceparent ...) of the publish: message attributes, not body.
    trace: dict[str, str] = field(default_factory=dict, compare=False)

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
        """Event type and ids, so subscriptions can filter without reading the body, and the
        trace context (at most 10 attributes in all: SNS's limit)."""
        values = {
            "event_id": self.id,
            "event_type": self.type,
            "aggregate": self.aggregate,
            "actor": self.actor,
            "group": str(self.payload.get("group", "")),
            **self.trace,
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
