"""Notification rules: which events notify whom, on which channels, and retry timing. Pure; no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from zoneinfo import ZoneInfo

from google.protobuf.message import Message
from hisaab.events.v1 import events_pb2 as ev

from libs import clock, money
from libs.errors import InvalidArgument
from libs.retry import backoff


class EventType(Enum):
    """Values are the contract's enum names (stored as text)."""

    EXPENSE_ADDED = "EXPENSE_ADDED"
    EXPENSE_UPDATED = "EXPENSE_UPDATED"
    EXPENSE_DELETED = "EXPENSE_DELETED"
    COMMENT_ADDED = "COMMENT_ADDED"
    SETTLEMENT_RECORDED = "SETTLEMENT_RECORDED"
    ADDED_TO_GROUP = "ADDED_TO_GROUP"
    BALANCE_REMINDER = "BALANCE_REMINDER"
    WEEKLY_DIGEST = "WEEKLY_DIGEST"
    PACK_PURCHASED = "PACK_PURCHASED"
    PACK_EXPIRING = "PACK_EXPIRING"
    PACK_EXPIRED = "PACK_EXPIRED"
    EXPORT_READY = "EXPORT_READY"
    RECURRING_EXPENSE_ADDED = "RECURRING_EXPENSE_ADDED"


class Channel(Enum):
    PUSH = "PUSH"
    SMS = "SMS"
    EMAIL = "EMAIL"
    IN_APP = "IN_APP"


# The contract: in-app is always on except for the digest and reminders, which
# are the only in-app switches a user may change.
IN_APP_OPTIONAL = frozenset({EventType.WEEKLY_DIGEST, EventType.BALANCE_REMINDER})
# Email is for things worth keeping; SMS costs money per message, so it is opt-in.
_EMAIL_ON = frozenset(
    {EventType.EXPORT_READY, EventType.PACK_PURCHASED, EventType.PACK_EXPIRING, EventType.WEEKLY_DIGEST}
)
DEFAULT_REMINDER_HOUR = 19
DEFAULT_TIME_ZONE = clock.BUSINESS_ZONE_NAME
MAX_DELIVERY_ATTEMPTS = 6
FIRST_RETRY = timedelta(seconds=5)
LONGEST_RETRY = timedelta(minutes=30)
# Below this many major units of any currency a debt is too small to nag about.
REMINDER_MIN_MAJOR_UNITS = 10


def default_enabled(event_type: EventType, channel: Channel) -> bool:
    if channel is Channel.IN_APP:
        return event_type is not EventType.WEEKLY_DIGEST
    if channel is Channel.PUSH:
        return event_type is not EventType.WEEKLY_DIGEST
    if channel is Channel.EMAIL:
        return event_type in _EMAIL_ON
    return False  # SMS


def check_switch(event_type: EventType, channel: Channel, enabled: bool) -> None:
    if channel is Channel.IN_APP and not enabled and event_type not in IN_APP_OPTIONAL:
        raise InvalidArgument(
            "preferences.channel_settings",
            f"in-app notifications are always on for {event_type.value}; "
            "only reminders and digests can be muted",
        )


@dataclass(frozen=True)
class Preferences:
    user_id: str
    reminder_hour: int = DEFAULT_REMINDER_HOUR
    time_zone: str = DEFAULT_TIME_ZONE
    locale: str = ""
    overrides: Mapping[tuple[EventType, Channel], bool] = field(default_factory=dict)
    version: int = 0
    updated_at: datetime | None = None

    def enabled(self, event_type: EventType, channel: Channel) -> bool:
        return self.overrides.get((event_type, channel), default_enabled(event_type, channel))

    def matrix(self) -> list[tuple[EventType, Channel, bool]]:
        return [(e, c, self.enabled(e, c)) for e in EventType for c in Channel]

    def channels(self, event_type: EventType) -> list[Channel]:
        return [c for c in Channel if self.enabled(event_type, c)]

    def local_hour(self, at: datetime) -> int:
        return at.astimezone(zone(self.time_zone)).hour

    def local_day(self, at: datetime) -> str:
        return at.astimezone(zone(self.time_zone)).date().isoformat()


def zone(name: str) -> ZoneInfo:
    try:
        return clock.zone_named(name)
    except ValueError:
        return clock.BUSINESS_ZONE


def valid_time_zone(name: str) -> str:
    try:
        clock.zone_named(name)
    except ValueError:
        raise InvalidArgument(
            "preferences.time_zone", "must be an IANA time zone such as Asia/Kolkata"
        ) from None
    return name


@dataclass(frozen=True)
class Event:
    """A domain event as notification-service understands it."""

    id: str
    type: EventType
    occurred_at: datetime
    actor: str = ""  # user id
    group: str = ""  # group id
    subject: str = ""  # resource name, e.g. groups/g/expenses/e
    recipients: tuple[str, ...] = ()  # explicit; empty means the group's members
    participants: tuple[str, ...] = ()  # notified besides the members (e.g. a 1:1 ledger's other person)
    attributes: Mapping[str, str] = field(default_factory=dict)

    @property
    def deep_link(self) -> str:
        return (
            f"hisaab://{self.subject}"
            if self.subject
            else (f"hisaab://groups/{self.group}" if self.group else "")
        )


def recipients(event: Event, members: Iterable[str]) -> list[str]:
    """Who hears about it: the explicit recipients, else the members and participants; never the actor."""
    chosen = set(event.recipients) if event.recipients else set(members) | set(event.participants)
    chosen.discard(event.actor)
    chosen.discard("")
    return sorted(chosen)


@dataclass(frozen=True)
class MembershipChange:
    group: str
    user: str
    present: bool
    seq: int


def _notifying(message: Message) -> EventType | None:
    """The contract's notification type for a domain event; None for events that only move state."""
    match message:
        case ev.ExpenseChanged(change=ev.CREATED):
            return EventType.RECURRING_EXPENSE_ADDED if message.recurring else EventType.EXPENSE_ADDED
        case ev.ExpenseChanged(change=ev.UPDATED | ev.RESTORED):
            return EventType.EXPENSE_UPDATED
        case ev.ExpenseChanged(change=ev.DELETED):
            return EventType.EXPENSE_DELETED
        case ev.ExpenseCommented():
            return EventType.COMMENT_ADDED
        case ev.SettlementChanged(change=ev.CREATED):
            return EventType.SETTLEMENT_RECORDED
        case ev.MemberChanged(change=ev.ADDED):
            return EventType.ADDED_TO_GROUP
        case ev.PurchaseCompleted():
            return EventType.PACK_PURCHASED
        case ev.EntitlementsExpired():
            return EventType.PACK_EXPIRED
        case ev.ExportReady():
            return EventType.EXPORT_READY
    return None


def membership_change(message: Message, actor: str, seq: int) -> MembershipChange | None:
    match message:
        case ev.GroupChanged(change=ev.CREATED) if message.group and actor:
            return MembershipChange(message.group, actor, True, seq)
        case ev.MemberChanged() if message.group and message.user:
            present = message.change in (ev.ADDED, ev.JOINED)
            if present or message.change in (ev.LEFT, ev.REMOVED):
                return MembershipChange(message.group, message.user, present, seq)
    return None


def _field(message: Message, name: str) -> str:
    """A string field of the event, "" where the message has none."""
    return str(getattr(message, name)) if name in message.DESCRIPTOR.fields_by_name else ""


def from_event(
    event_id: str, message: Message, aggregate: str, actor: str, occurred_at: datetime
) -> Event | None:
    """The notifying event for a domain event; None for events that only update state (or nobody hears)."""
    kind = _notifying(message)
    if kind is None:
        return None
    attributes: dict[str, str] = {}
    for key in ("description", "url", "format"):
        if _field(message, key):
            attributes[key] = _field(message, key)
    currency = _field(message, "currency_code")
    match message:
        case ev.ExpenseChanged():
            amount = message.total_minor
        case ev.SettlementChanged():
            amount = message.amount_minor
        case _:
            amount = 0
    if currency and money.is_known(currency):
        # Raw, not text: each recipient reads the amount in their own locale (templates.render).
        attributes["amount_minor"] = str(amount)
        attributes["currency_code"] = currency
    participants: tuple[str, ...] = ()
    recipients_: tuple[str, ...] = ()
    match message:
        case ev.ExpenseChanged():
            participants = tuple(message.deltas)
            if message.change == ev.RESTORED:
                attributes["restored"] = "1"
        case ev.SettlementChanged():
            participants = tuple(p for p in (message.payer, message.payee) if p)
        case ev.MemberChanged() | ev.PurchaseCompleted() | ev.EntitlementsExpired() | ev.ExportReady():
            if not message.user:
                return None
            recipients_ = (message.user,)
    return Event(
        id=event_id,
        type=kind,
        occurred_at=occurred_at,
        actor=actor,
        group=_field(message, "group"),
        subject=aggregate,
        recipients=recipients_,
        participants=participants,
        attributes=attributes,
    )


def retry_delay(attempts: int, first: timedelta = FIRST_RETRY) -> timedelta:
    """Delivery retries: doubling from ``first`` (FIRST_RETRY), capped at LONGEST_RETRY."""
    return timedelta(seconds=backoff(attempts, first.total_seconds(), LONGEST_RETRY.total_seconds()))


def gives_up(attempts: int) -> bool:
    return attempts >= MAX_DELIVERY_ATTEMPTS


def owes_enough(net_minor: int, currency: str) -> bool:
    """A debt worth a reminder: negative net (owes) of at least REMINDER_MIN_MAJOR_UNITS."""
    if net_minor >= 0 or not money.is_known(currency):
        return False
    unit: int = 10 ** money.exponent(currency)
    return -net_minor >= REMINDER_MIN_MAJOR_UNITS * unit


def reminder_due(prefs: Preferences, period_start: datetime) -> bool:
    return prefs.local_hour(period_start) == prefs.reminder_hour


@dataclass(frozen=True)
class Notification:
    """One row of a user's inbox (``in_app``) or the record behind their deliveries."""

    id: str
    user_id: str
    event_type: EventType
    title: str
    body: str
    deep_link: str
    group_id: str
    actor: str
    created_at: datetime
    read: bool


@dataclass(frozen=True)
class Delivery:
    """A push, SMS or email waiting to be sent, with the attempts made so far."""

    id: str
    channel: str
    target: str
    title: str
    body: str
    deep_link: str
    attempts: int
