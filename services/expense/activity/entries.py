"""Feed entries for the events of other services: settlements, members and the group itself.

Pure. Each event becomes at most one entry, whose id is derived from the event's id, so
a message the queue delivers twice is written once. The entry stores user ids, never
names: summaries.py renders it when the feed is read, with the users' current names.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from google.protobuf.message import Message
from hisaab.events.v1 import events_pb2 as ev

# Entry ids are uuid5(event id) in this namespace: stable across redeliveries, and apart
# from the random ids of the entries expense-service writes itself.
_ENTRY_IDS: Final = uuid.UUID("5b0c4c1e-8f0e-4b57-9a57-3c1f2c6a0d11")

_SETTLEMENT_VERB: Final = {ev.CREATED: "settled", ev.DELETED: "deleted", ev.RESTORED: "restored"}
_MEMBER_VERB: Final = {
    ev.ADDED: "member_invited",
    ev.JOINED: "member_joined",
    ev.LEFT: "member_left",
    ev.REMOVED: "member_removed",
}


@dataclass(frozen=True)
class Entry:
    """One row of expense.activities, as the worker writes it."""

    id: str
    group_id: str
    actor: str
    verb: str
    subject: str
    details: dict[str, Any]
    created_at: datetime
    currency: str = ""
    amount_minor: int = 0
    effects: dict[str, int] = field(default_factory=dict)


def entry_id(event_id: str) -> str:
    return str(uuid.uuid5(_ENTRY_IDS, event_id))


def settlement_effects(message: ev.SettlementChanged) -> dict[str, int]:
    """A payment raises the payer's balance and lowers the payee's (positive = gets back
    more, as an expense's effects); deleting it undoes that, restoring it does it again."""
    amount = message.amount_minor if message.change != ev.DELETED else -message.amount_minor
    if not amount or message.payer == message.payee:
        return {}
    return {message.payer: amount, message.payee: -amount}


def from_event(event_id: str, message: Message, actor: str, occurred_at: datetime) -> Entry | None:
    """The feed entry for one event; None for an event the feed does not show."""
    group = str(getattr(message, "group", ""))
    if not group:
        return None

    def entry(verb: str, subject: str, details: dict[str, Any], **money: Any) -> Entry:
        return Entry(
            id=entry_id(event_id),
            group_id=group,
            actor=actor,
            verb=verb,
            subject=subject,
            details=details,
            created_at=occurred_at,
            **money,
        )

    match message:
        case ev.SettlementChanged() if message.change in _SETTLEMENT_VERB:
            return entry(
                _SETTLEMENT_VERB[message.change],
                f"groups/{group}/settlements/{message.settlement}",
                {
                    "kind": "settlement",
                    "payer": message.payer,
                    "payee": message.payee,
                    "currency": message.currency_code,
                    "amount_minor": message.amount_minor,
                    "transaction_date": message.transaction_date,
                },
                currency=message.currency_code,
                amount_minor=message.amount_minor,
                effects=settlement_effects(message),
            )
        case ev.MemberChanged() if message.change in _MEMBER_VERB and message.user:
            return entry(
                _MEMBER_VERB[message.change],
                f"groups/{group}/members/{message.user}",
                {"kind": "member", "user": message.user},
            )
        # A friend ledger (opened, not created) has no name and no "created" entry.
        case ev.GroupChanged(change=ev.CREATED) if message.display_name:
            return entry(
                "created", f"groups/{group}", {"kind": "group", "display_name": message.display_name}
            )
        case ev.GroupChanged(change=ev.UPDATED) if message.fields:
            details: dict[str, Any] = {"kind": "group", "fields": sorted(message.fields)}
            if message.display_name:
                details["display_name"] = message.display_name
            return entry("group_updated", f"groups/{group}", details)
    return None


def people(details: dict[str, Any]) -> list[str]:
    """The user ids an entry's summary names besides its actor."""
    return [str(details[k]) for k in ("payer", "payee", "user") if details.get(k)]
