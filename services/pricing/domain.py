"""Pricing rules, pure: the catalog's shapes, order states, and how grants add up to held features."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from libs.clients.features.windows import Period
from libs.errors import FailedPrecondition, InvalidArgument

KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
BASE_CURRENCY = "INR"


class OrderState(StrEnum):
    CREATED = "created"
    PAID = "paid"
    FAILED = "failed"
    REFUNDED = "refunded"


class ProviderKind(StrEnum):
    RAZORPAY = "razorpay"
    DEV = "dev"
    GOOGLE_PLAY = "google_play"
    APP_STORE = "app_store"


@dataclass(frozen=True)
class Feature:
    key: str
    display_name: str
    description: str = ""
    updated_at: datetime | None = None


@dataclass(frozen=True)
class Pack:
    key: str
    display_name: str
    features: tuple[str, ...]
    duration: timedelta | None  # None: for life
    price_inr_minor: int
    other_prices: Mapping[str, int] = field(default_factory=dict)  # currency -> minor units
    description: str = ""
    active: bool = True
    sort_order: int = 0
    google_play_product_id: str = ""
    app_store_product_id: str = ""
    updated_at: datetime | None = None

    @property
    def name(self) -> str:
        return f"packs/{self.key}"

    def price_in(self, currency: str) -> int:
        if currency == BASE_CURRENCY:
            return self.price_inr_minor
        price = self.other_prices.get(currency)
        if price is None:
            raise InvalidArgument("currency_code", f"{self.name} has no price in {currency}")
        return price


@dataclass(frozen=True)
class Quota:
    key: str
    display_name: str
    limit: int
    period: Period
    time_zone: str
    lifted_by_feature: str = ""
    updated_at: datetime | None = None


@dataclass(frozen=True)
class Order:
    id: str
    user_id: str
    pack_key: str
    features: tuple[str, ...]
    duration: timedelta | None
    provider: ProviderKind
    provider_order_id: str
    currency: str
    amount_minor: int
    state: OrderState
    checkout_params: Mapping[str, str]
    provider_payment_id: str
    failure_reason: str
    created_at: datetime
    paid_at: datetime | None
    updated_at: datetime

    @property
    def name(self) -> str:
        return f"orders/{self.id}"


@dataclass(frozen=True)
class Grant:
    """One row of user_features: a feature for a time, from an order."""

    id: str
    user_id: str
    feature: str
    pack_key: str
    order_id: str | None
    start: datetime
    expire: datetime | None
    revoked_at: datetime | None = None

    def active(self, now: datetime) -> bool:
        return self.revoked_at is None and self.start <= now and (self.expire is None or now < self.expire)


def validate_key(key: str, field_name: str) -> str:
    if not KEY_PATTERN.match(key):
        raise InvalidArgument(field_name, "must be lower snake case, starting with a letter, at most 63 long")
    return key


# --- orders -----------------------------------------------------------------


class Settle(StrEnum):
    """What reporting a payment does to an order."""

    GRANT = "grant"  # newly paid: grant its features
    ALREADY = "already"  # paid before (a retry or a repeated webhook): nothing to do
    IGNORE = "ignore"  # refunded: a late or replayed payment report never re-grants


def settle_payment(order: Order, amount_minor: int | None = None, currency: str | None = None) -> Settle:
    if amount_minor is not None and (amount_minor != order.amount_minor or currency != order.currency):
        raise FailedPrecondition("the payment does not match the order's amount")
    if order.state is OrderState.PAID:
        return Settle.ALREADY
    if order.state is OrderState.REFUNDED:
        return Settle.IGNORE
    return Settle.GRANT  # CREATED, or FAILED followed by a successful retry at checkout


# --- entitlements ---------------------------------------------------------------


def coverage_end(grants: Iterable[Grant], feature: str, now: datetime) -> tuple[bool, datetime | None]:
    """(held now, when continuous coverage from now ends; None = never).

    Renewals are stored as grants that start where the previous one ends, so a
    feature is held until the end of the chain, not of the current grant.
    """
    live = [g for g in grants if g.feature == feature and g.revoked_at is None]
    t = now
    held = False
    while True:
        covering = [g for g in live if g.start <= t and (g.expire is None or g.expire > t)]
        if not covering:
            return held, t
        held = True
        if any(g.expire is None for g in covering):
            return True, None
        t = max(g.expire for g in covering if g.expire is not None)


def held_features(grants: Iterable[Grant], now: datetime) -> dict[str, datetime | None]:
    grants = list(grants)
    held: dict[str, datetime | None] = {}
    for feature in sorted({g.feature for g in grants}):
        is_held, end = coverage_end(grants, feature, now)
        if is_held:
            held[feature] = end
    return held


def expire_time(grants: Iterable[Grant], now: datetime) -> datetime | None:
    """The earliest moment the held set can change by itself: a lapse or a grant starting."""
    grants = list(grants)
    moments = [end for end in held_features(grants, now).values() if end is not None]
    moments += [g.start for g in grants if g.revoked_at is None and g.start > now]
    return min(moments, default=None)


def next_grant_window(
    existing: Iterable[Grant], feature: str, duration: timedelta | None, now: datetime
) -> tuple[datetime, datetime | None]:
    """Where a newly bought grant of ``feature`` goes: buying again extends, it never overlaps."""
    held, end = coverage_end(existing, feature, now)
    start = end if held and end is not None else now
    return start, (start + duration if duration is not None else None)
