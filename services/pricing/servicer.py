"""PricingService over gRPC: proto ⇄ use cases, admin and owner checks, idempotent purchases."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC
from typing import Any

from google.api import httpbody_pb2
from google.protobuf import empty_pb2
from hisaab.pricing.v1 import pricing_pb2, pricing_pb2_grpc

from libs import idempotency, names, pagination, validation, wire
from libs.auth.caller import Caller, is_internal, require_caller
from libs.errors import InvalidArgument, NotAllowed, NotFound
from services.pricing import codec
from services.pricing.catalog import CatalogUseCases
from services.pricing.domain import BASE_CURRENCY
from services.pricing.entitlements import EntitlementUseCases
from services.pricing.purchases import PurchaseUseCases

ADMIN_GROUP = "hisaab-admins"


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


class PricingServicer(pricing_pb2_grpc.PricingServiceServicer):
    def __init__(
        self,
        catalog: CatalogUseCases,
        purchases: PurchaseUseCases,
        entitlements: EntitlementUseCases,
        *,
        admins: Collection[str] = (),
    ):
        self._catalog = catalog
        self._purchases = purchases
        self._entitlements = entitlements
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

    # --- catalog ---

    async def ListFeatures(
        self, request: pricing_pb2.ListFeaturesRequest, context: Any
    ) -> pricing_pb2.ListFeaturesResponse:
        pager = pagination.Page.of(request, {"list": "features"})
        found = await self._catalog.features(after=pager.after_one, limit=pager.limit)
        page, token = pager.cut(found, lambda last: [last.key])
        return pricing_pb2.ListFeaturesResponse(
            features=[codec.feature_proto(f) for f in page], next_page_token=token
        )

    async def ListPacks(
        self, request: pricing_pb2.ListPacksRequest, context: Any
    ) -> pricing_pb2.ListPacksResponse:
        pager = pagination.Page.of(request, {"list": "packs"})
        found = await self._catalog.packs(after=pager.after, limit=pager.limit)
        page, token = pager.cut(found, lambda last: [last.sort_order, last.key])
        return pricing_pb2.ListPacksResponse(packs=[codec.pack_proto(p) for p in page], next_page_token=token)

    async def ListQuotas(
        self, request: pricing_pb2.ListQuotasRequest, context: Any
    ) -> pricing_pb2.ListQuotasResponse:
        pager = pagination.Page.of(request, {"list": "quotas"})
        found = await self._catalog.quotas(after=pager.after_one, limit=pager.limit)
        page, token = pager.cut(found, lambda last: [last.key])
        return pricing_pb2.ListQuotasResponse(
            quotas=[codec.quota_proto(q) for q in page], next_page_token=token
        )

    async def UpsertFeature(
        self, request: pricing_pb2.UpsertFeatureRequest, context: Any
    ) -> pricing_pb2.Feature:
        self._admin()
        return codec.feature_proto(await self._catalog.upsert_feature(codec.feature_from(request.feature)))

    async def UpsertPack(self, request: pricing_pb2.UpsertPackRequest, context: Any) -> pricing_pb2.Pack:
        self._admin()
        return codec.pack_proto(await self._catalog.upsert_pack(codec.pack_from(request.pack)))

    async def UpsertQuota(self, request: pricing_pb2.UpsertQuotaRequest, context: Any) -> pricing_pb2.Quota:
        self._admin()
        return codec.quota_proto(await self._catalog.upsert_quota(codec.quota_from(request.quota)))

    async def DeactivatePack(
        self, request: pricing_pb2.DeactivatePackRequest, context: Any
    ) -> pricing_pb2.Pack:
        self._admin()
        return codec.pack_proto(await self._catalog.deactivate_pack(_key(request.name, "packs", "name")))

    # --- purchases ---

    async def CreateOrder(self, request: pricing_pb2.CreateOrderRequest, context: Any) -> pricing_pb2.Order:
        caller = require_caller()
        pack_key = _key(request.pack, "packs", "pack")
        kind = codec.provider_from(request.provider)
        currency = (
            validation.currency_code(request.currency_code, "currency_code")
            if request.currency_code
            else BASE_CURRENCY
        )
        idempotency.validate_request_id(request.request_id)
        return await self._purchases.create(
            caller.user_id, pack_key, kind, currency, request, pricing_pb2.Order, codec.order_proto
        )

    async def ConfirmPayment(
        self, request: pricing_pb2.ConfirmPaymentRequest, context: Any
    ) -> pricing_pb2.Order:
        caller = require_caller()
        order_id = _key(request.order, "orders", "order")
        if not request.provider_payment_id:
            raise InvalidArgument("provider_payment_id", "is required")
        idempotency.validate_request_id(request.request_id)
        return await self._purchases.confirm_payment(
            caller.user_id,
            order_id,
            request.provider_payment_id,
            request.signature,
            request,
            pricing_pb2.Order,
            codec.order_proto,
        )

    async def GetOrder(self, request: pricing_pb2.GetOrderRequest, context: Any) -> pricing_pb2.Order:
        caller = require_caller()
        return codec.order_proto(
            await self._purchases.get(caller.user_id, _key(request.name, "orders", "name"))
        )

    async def ListOrders(
        self, request: pricing_pb2.ListOrdersRequest, context: Any
    ) -> pricing_pb2.ListOrdersResponse:
        caller = require_caller()
        query = {"list": "orders", "caller": caller.user_id}
        pager = pagination.Page.of(request, query)
        found = await self._purchases.list_orders(caller.user_id, after=pager.after, limit=pager.limit)
        page, token = pager.cut(found, pagination.created_key)
        return pricing_pb2.ListOrdersResponse(
            orders=[codec.order_proto(o) for o in page], next_page_token=token
        )

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
        pager = pagination.Page.of(request, query)
        found, now = await self._entitlements.list_mine(
            caller.user_id,
            show_inactive=request.show_inactive,
            after=pager.after,
            limit=pager.limit,
        )
        page, token = pager.cut(
            found, lambda last: [last.expire.isoformat() if last.expire else "infinity", last.id]
        )
        return pricing_pb2.ListMyEntitlementsResponse(
            entitlements=[codec.entitlement_proto(g, now) for g in page], next_page_token=token
        )

    async def GetMyFeatures(
        self, request: pricing_pb2.GetMyFeaturesRequest, context: Any
    ) -> pricing_pb2.MyFeatures:
        caller = require_caller()
        held, usages = await self._entitlements.my_features(caller.user_id)
        return pricing_pb2.MyFeatures(
            features=sorted(held),
            expire_times={f: wire.timestamp(end) for f, end in held.items() if end is not None},
            quotas=[codec.usage_proto(u) for u in usages],
        )

    async def CheckEntitlements(
        self, request: pricing_pb2.CheckEntitlementsRequest, context: Any
    ) -> pricing_pb2.CheckEntitlementsResponse:
        user_id = self._self_or_admin(request.user)
        # No feature keys asks for every feature held now: the gate caches that
        # one answer for all services.
        check = await self._entitlements.check(user_id, list(request.features), list(request.quotas))
        response = pricing_pb2.CheckEntitlementsResponse(
            granted=sorted(check.held), quotas=[codec.usage_proto(u) for u in check.quotas]
        )
        codec.set_time(response.expire_time, check.expire_time)
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
        return codec.usage_proto(usage)

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
