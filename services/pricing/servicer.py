"""PricingService over gRPC: proto ⇄ use cases, admin and owner checks, idempotent purchases."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from google.api import httpbody_pb2
from google.protobuf import duration_pb2, empty_pb2
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from hisaab.common.v1 import money_pb2
from hisaab.pricing.v1 import pricing_pb2, pricing_pb2_grpc
from sqlalchemy.ext.asyncio import AsyncConnection

from libs import idempotency, names, pagination, validation, wire
from libs.auth.caller import Caller, is_internal, require_caller
from libs.clients.features.windows import Period
from libs.db.database import Database
from libs.errors import InvalidArgument, NotAllowed, NotFound
from services.pricing.catalog import CatalogUseCases
from services.pricing.domain import BASE_CURRENCY, Feature, Grant, Order, Pack, ProviderKind, Quota
from services.pricing.entitlements import EntitlementUseCases, Usage
from services.pricing.purchases import PurchaseUseCases

M = TypeVar("M", bound=Message)

ADMIN_GROUP = "hisaab-admins"
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


def _set_ts(target: Timestamp, value: datetime | None) -> None:
    if value is not None:
        target.CopyFrom(wire.timestamp(value))


def feature_proto(feature: Feature) -> pricing_pb2.Feature:
    proto = pricing_pb2.Feature(
        name=f"features/{feature.key}",
        key=feature.key,
        display_name=feature.display_name,
        description=feature.description,
    )
    _set_ts(proto.update_time, feature.updated_at)
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
    _set_ts(proto.update_time, pack.updated_at)
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
    _set_ts(proto.update_time, quota.updated_at)
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
    _set_ts(proto.paid_time, order.paid_at)
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
    _set_ts(proto.expire_time, grant.expire)
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


def is_admin(caller: Caller, admins: Collection[str]) -> bool:
    groups = caller.claims.get("cognito:groups") or []
    return caller.user_id in admins or (isinstance(groups, list) and ADMIN_GROUP in groups)


def _metadata(context: Any, key: str) -> str:
    for k, v in context.invocation_metadata() or ():
        if k.lower() == key:
            return v.decode() if isinstance(v, bytes) else str(v)
    return ""


def _key(name: str, collection: str, field: str) -> str:
    return names.one(name, collection, field)


def _money_map(prices: Any, field: str) -> dict[str, int]:
    found: dict[str, int] = {}
    for i, money in enumerate(prices):
        code = validation.currency_code(money.currency_code, f"{field}[{i}].currency_code")
        if code == BASE_CURRENCY or code in found:
            raise InvalidArgument(f"{field}[{i}].currency_code", "one price per currency, INR goes in price")
        found[code] = int(money.amount_minor)
    return found


class PricingServicer(pricing_pb2_grpc.PricingServiceServicer):
    def __init__(
        self,
        catalog: CatalogUseCases,
        purchases: PurchaseUseCases,
        entitlements: EntitlementUseCases,
        db: Database,
        *,
        admins: Collection[str] = (),
    ):
        self._catalog = catalog
        self._purchases = purchases
        self._entitlements = entitlements
        self._db = db
        self._admins = frozenset(admins)

    def _admin(self) -> Caller:
        caller = require_caller()
        # The contract lets only pricing's own identity call these; a user it relays must be an admin.
        if not (is_internal(caller) or is_admin(caller, self._admins)):
            raise NotAllowed("only administrators may do this")
        return caller

    def _self_or_admin(self, user_name: str) -> str:
        caller = require_caller()
        user_id = _key(user_name, "users", "user")
        # A service acting for itself may ask about anyone (the contract names which services).
        if user_id != caller.user_id and not (is_internal(caller) or is_admin(caller, self._admins)):
            raise NotAllowed("only for your own account")
        return user_id

    async def _once(
        self, scope: str, request: Any, response_type: type[M], work: Callable[[Any], Awaitable[M]]
    ) -> M:
        return await idempotency.once_in_transaction(
            self._db, f"pricing.{scope}", request, response_type, work
        )

    # --- catalog ---

    async def ListFeatures(
        self, request: pricing_pb2.ListFeaturesRequest, context: Any
    ) -> pricing_pb2.ListFeaturesResponse:
        size = pagination.page_size(request.page_size)
        cursor = pagination.decode(request.page_token, {"list": "features"})
        found = await self._catalog.features(after=cursor.key[0] if cursor else None, limit=size + 1)
        page, token = pagination.page_of(found, size, lambda last: [last.key], {"list": "features"})
        return pricing_pb2.ListFeaturesResponse(
            features=[feature_proto(f) for f in page], next_page_token=token
        )

    async def ListPacks(
        self, request: pricing_pb2.ListPacksRequest, context: Any
    ) -> pricing_pb2.ListPacksResponse:
        size = pagination.page_size(request.page_size)
        cursor = pagination.decode(request.page_token, {"list": "packs"})
        found = await self._catalog.packs(after=cursor.key if cursor else None, limit=size + 1)
        page, token = pagination.page_of(
            found, size, lambda last: [last.sort_order, last.key], {"list": "packs"}
        )
        return pricing_pb2.ListPacksResponse(packs=[pack_proto(p) for p in page], next_page_token=token)

    async def ListQuotas(
        self, request: pricing_pb2.ListQuotasRequest, context: Any
    ) -> pricing_pb2.ListQuotasResponse:
        size = pagination.page_size(request.page_size)
        cursor = pagination.decode(request.page_token, {"list": "quotas"})
        found = await self._catalog.quotas(after=cursor.key[0] if cursor else None, limit=size + 1)
        page, token = pagination.page_of(found, size, lambda last: [last.key], {"list": "quotas"})
        return pricing_pb2.ListQuotasResponse(quotas=[quota_proto(q) for q in page], next_page_token=token)

    async def UpsertFeature(
        self, request: pricing_pb2.UpsertFeatureRequest, context: Any
    ) -> pricing_pb2.Feature:
        self._admin()
        f = request.feature
        feature = Feature(
            key=f.key,
            display_name=validation.text(
                f.display_name, "feature.display_name", max_length=100, required=True
            ),
            description=validation.text(
                f.description, "feature.description", max_length=1000, multiline=True
            ),
        )
        return feature_proto(await self._catalog.upsert_feature(feature))

    async def UpsertPack(self, request: pricing_pb2.UpsertPackRequest, context: Any) -> pricing_pb2.Pack:
        self._admin()
        p = request.pack
        if p.price.currency_code != BASE_CURRENCY:
            raise InvalidArgument("pack.price.currency_code", "the base price is in INR")
        pack = Pack(
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
        return pack_proto(await self._catalog.upsert_pack(pack))

    async def UpsertQuota(self, request: pricing_pb2.UpsertQuotaRequest, context: Any) -> pricing_pb2.Quota:
        self._admin()
        q = request.quota
        period = _PERIOD.get(q.period)
        if period is None:
            raise InvalidArgument("quota.period", "must be DAILY, WEEKLY or MONTHLY")
        quota = Quota(
            key=q.key,
            display_name=validation.text(q.display_name, "quota.display_name", max_length=100, required=True),
            limit=q.limit,
            period=period,
            time_zone=q.time_zone or "Asia/Kolkata",
            lifted_by_feature=q.lifted_by_feature,
        )
        return quota_proto(await self._catalog.upsert_quota(quota))

    async def DeactivatePack(
        self, request: pricing_pb2.DeactivatePackRequest, context: Any
    ) -> pricing_pb2.Pack:
        self._admin()
        return pack_proto(await self._catalog.deactivate_pack(_key(request.name, "packs", "name")))

    # --- purchases ---

    async def CreateOrder(self, request: pricing_pb2.CreateOrderRequest, context: Any) -> pricing_pb2.Order:
        caller = require_caller()
        pack_key = _key(request.pack, "packs", "pack")
        kind = _PROVIDER.get(request.provider)
        if kind is None:
            raise InvalidArgument("provider", "is required")
        currency = (
            validation.currency_code(request.currency_code, "currency_code")
            if request.currency_code
            else BASE_CURRENCY
        )

        async def work(conn: AsyncConnection) -> pricing_pb2.Order:
            return order_proto(
                await self._purchases.create_order(conn, caller.user_id, pack_key, kind, currency)
            )

        return await self._once("CreateOrder", request, pricing_pb2.Order, work)

    async def ConfirmPayment(
        self, request: pricing_pb2.ConfirmPaymentRequest, context: Any
    ) -> pricing_pb2.Order:
        caller = require_caller()
        order_id = _key(request.order, "orders", "order")
        if not request.provider_payment_id:
            raise InvalidArgument("provider_payment_id", "is required")

        async def work(conn: AsyncConnection) -> pricing_pb2.Order:
            order = await self._purchases.confirm(
                conn, caller.user_id, order_id, request.provider_payment_id, request.signature
            )
            return order_proto(order)

        confirmed = await self._once("ConfirmPayment", request, pricing_pb2.Order, work)
        # After the commit: an invalidation before it could be refilled with the old state.
        await self._entitlements.invalidate(caller.user_id)
        return confirmed

    async def GetOrder(self, request: pricing_pb2.GetOrderRequest, context: Any) -> pricing_pb2.Order:
        caller = require_caller()
        return order_proto(await self._purchases.get(caller.user_id, _key(request.name, "orders", "name")))

    async def ListOrders(
        self, request: pricing_pb2.ListOrdersRequest, context: Any
    ) -> pricing_pb2.ListOrdersResponse:
        caller = require_caller()
        query = {"list": "orders", "caller": caller.user_id}
        size = pagination.page_size(request.page_size)
        cursor = pagination.decode(request.page_token, query)
        found = await self._purchases.list_orders(
            caller.user_id, after=cursor.key if cursor else None, limit=size + 1
        )
        page, token = pagination.page_of(found, size, pagination.created_key, query)
        return pricing_pb2.ListOrdersResponse(orders=[order_proto(o) for o in page], next_page_token=token)

    async def HandleRazorpayWebhook(self, request: httpbody_pb2.HttpBody, context: Any) -> empty_pb2.Empty:
        # Envoy forwards the HTTP headers as gRPC metadata (lower case).
        await self._purchases.razorpay_webhook(
            bytes(request.data),
            _metadata(context, "x-razorpay-signature"),
            _metadata(context, "x-razorpay-event-id"),
        )
        return empty_pb2.Empty()

    # --- entitlements ---

    async def ListMyEntitlements(
        self, request: pricing_pb2.ListMyEntitlementsRequest, context: Any
    ) -> pricing_pb2.ListMyEntitlementsResponse:
        caller = require_caller()
        query = {"list": "entitlements", "caller": caller.user_id, "inactive": request.show_inactive}
        size = pagination.page_size(request.page_size)
        cursor = pagination.decode(request.page_token, query)
        found, now = await self._entitlements.list_mine(
            caller.user_id,
            show_inactive=request.show_inactive,
            after=cursor.key if cursor else None,
            limit=size + 1,
        )
        page, token = pagination.page_of(
            found, size, lambda last: [last.expire.isoformat() if last.expire else "infinity", last.id], query
        )
        return pricing_pb2.ListMyEntitlementsResponse(
            entitlements=[entitlement_proto(g, now) for g in page], next_page_token=token
        )

    async def GetMyFeatures(
        self, request: pricing_pb2.GetMyFeaturesRequest, context: Any
    ) -> pricing_pb2.MyFeatures:
        caller = require_caller()
        held, usages = await self._entitlements.my_features(caller.user_id)
        return pricing_pb2.MyFeatures(
            features=sorted(held),
            expire_times={f: wire.timestamp(end) for f, end in held.items() if end is not None},
            quotas=[usage_proto(u) for u in usages],
        )

    async def CheckEntitlements(
        self, request: pricing_pb2.CheckEntitlementsRequest, context: Any
    ) -> pricing_pb2.CheckEntitlementsResponse:
        user_id = self._self_or_admin(request.user)
        # No feature keys asks for every feature held now: the gate caches that
        # one answer for all services.
        check = await self._entitlements.check(user_id, list(request.features), list(request.quotas))
        response = pricing_pb2.CheckEntitlementsResponse(
            granted=sorted(check.held), quotas=[usage_proto(u) for u in check.quotas]
        )
        _set_ts(response.expire_time, check.expire_time)
        return response

    async def RecordQuotaUsage(
        self, request: pricing_pb2.RecordQuotaUsageRequest, context: Any
    ) -> pricing_pb2.QuotaUsage:
        user_id = self._self_or_admin(request.user)
        if not request.request_id:
            raise InvalidArgument("request_id", "is required")
        idempotency.validate_request_id(request.request_id)
        usage = await self._entitlements.record_usage(user_id, request.quota, request.request_id)
        if usage is None:
            raise NotFound("quota not found")
        return usage_proto(usage)

    async def ExpireEntitlements(
        self, request: pricing_pb2.ExpireEntitlementsRequest, context: Any
    ) -> pricing_pb2.ExpireEntitlementsResponse:
        caller = require_caller()
        if not (is_internal(caller) or is_admin(caller, self._admins)):
            raise NotAllowed("only the job runner or administrators may do this")
        now = request.now.ToDatetime(tzinfo=UTC) if request.HasField("now") else None
        count, users = await self._entitlements.expire(now)
        return pricing_pb2.ExpireEntitlementsResponse(
            expired_count=count, users=[f"users/{u}" for u in users]
        )
