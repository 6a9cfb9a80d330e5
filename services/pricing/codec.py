"""Pricing's proto ⇄ domain conversions: catalog entries, orders, entitlements and quota usage."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from google.protobuf import duration_pb2
from google.protobuf.timestamp_pb2 import Timestamp
from hisaab.common.v1 import money_pb2
from hisaab.pricing.v1 import pricing_pb2

from libs import validation, wire
from libs.clients.features.windows import Period
from libs.errors import InvalidArgument
from services.pricing.domain import BASE_CURRENCY, Feature, Grant, Order, Pack, ProviderKind, Quota
from services.pricing.entitlements import Usage

_PERIOD = {
    pricing_pb2.Quota.DAILY: Period.DAILY,
    pricing_pb2.Quota.WEEKLY: Period.WEEKLY,
    pricing_pb2.Quota.MONTHLY: Period.MONTHLY,
}
_PERIOD_PB = {v: k for k, v in _PERIOD.items()}
_PROVIDER = {
    pricing_pb2.RAZORPAY: ProviderKind.RAZORPAY,
    pricing_pb2.DEV: ProviderKind.DEV,
    pricing_pb2.GOOGLE_PLAY: ProviderKind.GOOGLE_PLAY,
    pricing_pb2.APP_STORE: ProviderKind.APP_STORE,
}
_PROVIDER_PB = {v: k for k, v in _PROVIDER.items()}
_STATE_PB = {
    "created": pricing_pb2.Order.CREATED,
    "paid": pricing_pb2.Order.PAID,
    "failed": pricing_pb2.Order.FAILED,
    "refunded": pricing_pb2.Order.REFUNDED,
}


def set_time(target: Timestamp, value: datetime | None) -> None:
    if value is not None:
        target.CopyFrom(wire.timestamp(value))


def feature_proto(feature: Feature) -> pricing_pb2.Feature:
    proto = pricing_pb2.Feature(
        name=f"features/{feature.key}",
        key=feature.key,
        display_name=feature.display_name,
        description=feature.description,
    )
    set_time(proto.update_time, feature.updated_at)
    return proto


def pack_proto(pack: Pack) -> pricing_pb2.Pack:
    proto = pricing_pb2.Pack(
        name=pack.name,
        key=pack.key,
        display_name=pack.display_name,
        description=pack.description,
        features=list(pack.features),
        price=money_pb2.Money(currency_code=BASE_CURRENCY, amount_minor=pack.price_inr_minor),
        other_prices=[
            money_pb2.Money(currency_code=c, amount_minor=a) for c, a in sorted(pack.other_prices.items())
        ],
        active=pack.active,
        sort_order=pack.sort_order,
        google_play_product_id=pack.google_play_product_id,
        app_store_product_id=pack.app_store_product_id,
    )
    if pack.duration is not None:
        proto.duration.CopyFrom(duration_pb2.Duration(seconds=int(pack.duration.total_seconds())))
    set_time(proto.update_time, pack.updated_at)
    return proto


def quota_proto(quota: Quota) -> pricing_pb2.Quota:
    proto = pricing_pb2.Quota(
        name=f"quotas/{quota.key}",
        key=quota.key,
        display_name=quota.display_name,
        limit=quota.limit,
        period=_PERIOD_PB[quota.period],
        time_zone=quota.time_zone,
        lifted_by_feature=quota.lifted_by_feature,
    )
    set_time(proto.update_time, quota.updated_at)
    return proto


def order_proto(order: Order) -> pricing_pb2.Order:
    proto = pricing_pb2.Order(
        name=order.name,
        user=f"users/{order.user_id}",
        pack=f"packs/{order.pack_key}",
        provider=_PROVIDER_PB[order.provider],
        provider_order_id=order.provider_order_id,
        amount=money_pb2.Money(currency_code=order.currency, amount_minor=order.amount_minor),
        state=_STATE_PB[order.state.value],
        checkout_params=dict(order.checkout_params),
        provider_payment_id=order.provider_payment_id,
        failure_reason=order.failure_reason,
        create_time=wire.timestamp(order.created_at),
        update_time=wire.timestamp(order.updated_at),
    )
    set_time(proto.paid_time, order.paid_at)
    return proto


def entitlement_proto(grant: Grant, now: datetime) -> pricing_pb2.Entitlement:
    proto = pricing_pb2.Entitlement(
        name=f"users/{grant.user_id}/entitlements/{grant.id}",
        feature=grant.feature,
        pack=f"packs/{grant.pack_key}",
        order=f"orders/{grant.order_id}" if grant.order_id else "",
        start_time=wire.timestamp(grant.start),
        active=grant.active(now),
    )
    set_time(proto.expire_time, grant.expire)
    return proto


def usage_proto(usage: Usage) -> pricing_pb2.QuotaUsage:
    return pricing_pb2.QuotaUsage(
        key=usage.key,
        limit=usage.limit,
        used=usage.used,
        reset_time=wire.timestamp(usage.reset_time),
        unlimited=usage.unlimited,
        allowed=usage.allowed,
    )


def _money_map(prices: Iterable[money_pb2.Money], field: str) -> dict[str, int]:
    found: dict[str, int] = {}
    for i, money in enumerate(prices):
        code = validation.currency_code(money.currency_code, f"{field}[{i}].currency_code")
        if code == BASE_CURRENCY or code in found:
            raise InvalidArgument(f"{field}[{i}].currency_code", "one price per currency, INR goes in price")
        found[code] = int(money.amount_minor)
    return found


def feature_from(f: pricing_pb2.Feature) -> Feature:
    return Feature(
        key=f.key,
        display_name=validation.text(f.display_name, "feature.display_name", max_length=100, required=True),
        description=validation.text(f.description, "feature.description", max_length=1000, multiline=True),
    )


def pack_from(p: pricing_pb2.Pack) -> Pack:
    if p.price.currency_code != BASE_CURRENCY:
        raise InvalidArgument("pack.price.currency_code", "the base price is in INR")
    return Pack(
        key=p.key,
        display_name=validation.text(p.display_name, "pack.display_name", max_length=100, required=True),
        description=validation.text(p.description, "pack.description", max_length=1000, multiline=True),
        features=tuple(dict.fromkeys(p.features)),
        duration=timedelta(seconds=p.duration.seconds) if p.HasField("duration") else None,
        price_inr_minor=int(p.price.amount_minor),
        other_prices=_money_map(p.other_prices, "pack.other_prices"),
        sort_order=p.sort_order,
        google_play_product_id=p.google_play_product_id,
        app_store_product_id=p.app_store_product_id,
    )


def quota_from(q: pricing_pb2.Quota) -> Quota:
    period = _PERIOD.get(q.period)
    if period is None:
        raise InvalidArgument("quota.period", "must be DAILY, WEEKLY or MONTHLY")
    return Quota(
        key=q.key,
        display_name=validation.text(q.display_name, "quota.display_name", max_length=100, required=True),
        limit=q.limit,
        period=period,
        time_zone=q.time_zone or "Asia/Kolkata",
        lifted_by_feature=q.lifted_by_feature,
    )


def provider_from(value: pricing_pb2.Provider.ValueType) -> ProviderKind:
    kind = _PROVIDER.get(value)
    if kind is None:
        raise InvalidArgument("provider", "is required")
    return kind
