"""The gate's port to pricing-service (the source of truth) and its gRPC adapter."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import grpc
from hisaab.pricing.v1 import pricing_pb2, pricing_pb2_grpc

from libs.clients.features.holdings import Holdings
from libs.clients.features.windows import Period
from libs.errors import Unavailable

_PERIODS = {
    pricing_pb2.Quota.DAILY: Period.DAILY,
    pricing_pb2.Quota.WEEKLY: Period.WEEKLY,
    pricing_pb2.Quota.MONTHLY: Period.MONTHLY,
}


@dataclass(frozen=True)
class QuotaDef:
    key: str
    limit: int
    period: Period
    time_zone: str
    lifted_by_feature: str


@dataclass(frozen=True)
class QuotaState:
    key: str
    limit: int
    used: int
    reset_time: datetime
    unlimited: bool
    allowed: bool


@dataclass(frozen=True)
class PackOffer:
    """A pack as an upsell shows it."""

    name: str  # "packs/{key}"
    display_name: str
    price_minor: int
    currency_code: str
    duration_seconds: int | None  # None: for life


@dataclass(frozen=True)
class Catalog:
    # feature key -> the active packs that grant it, in display order
    packs_by_feature: dict[str, list[PackOffer]]
    quotas: dict[str, QuotaDef]


def pack_offer(pack: pricing_pb2.Pack) -> PackOffer:
    return PackOffer(
        name=pack.name,
        display_name=pack.display_name,
        price_minor=pack.price.amount_minor,
        currency_code=pack.price.currency_code,
        duration_seconds=pack.duration.seconds if pack.HasField("duration") else None,
    )


class PricingSource(Protocol):
    async def check(self, user_id: str, quotas: Sequence[str]) -> tuple[Holdings, dict[str, QuotaState]]:
        """Everything the user holds now (from PostgreSQL) and the state of the given quotas."""

    async def catalog(self) -> Catalog:
        """Active packs by feature and quota definitions."""

    async def record_usage(self, user_id: str, quota: str, request_id: str) -> QuotaState:
        """Counts one use (idempotent per request_id) and returns the quota's state after it."""


def quota_state(usage: pricing_pb2.QuotaUsage) -> QuotaState:
    return QuotaState(
        key=usage.key,
        limit=usage.limit,
        used=usage.used,
        reset_time=usage.reset_time.ToDatetime(tzinfo=UTC),
        unlimited=usage.unlimited,
        allowed=usage.allowed,
    )


class GrpcPricingSource:
    """Calls pricing-service; the caller's token is forwarded by ``libs.rpc.peers``."""

    def __init__(self, channel: grpc.aio.Channel):
        self._stub = pricing_pb2_grpc.PricingServiceStub(channel)

    async def check(self, user_id: str, quotas: Sequence[str]) -> tuple[Holdings, dict[str, QuotaState]]:
        # No feature keys means "every feature the user holds": one cache entry
        # then serves the gates of every service.
        request = pricing_pb2.CheckEntitlementsRequest(user=f"users/{user_id}", quotas=list(quotas))
        try:
            response = await self._stub.CheckEntitlements(request)
        except grpc.aio.AioRpcError as err:
            raise Unavailable("entitlements could not be checked; retry") from err
        expire_time = (
            response.expire_time.ToDatetime(tzinfo=UTC) if response.HasField("expire_time") else None
        )
        # Per-feature expiries are not on the wire; the earliest one bounds them all,
        # which only ever makes the copy lapse early, never late.
        holdings = Holdings({f: expire_time for f in response.granted}, expire_time)
        return holdings, {q.key: quota_state(q) for q in response.quotas}

    async def catalog(self) -> Catalog:
        try:
            packs = await self._all_packs()
            quotas = await self._stub.ListQuotas(pricing_pb2.ListQuotasRequest(page_size=100))
        except grpc.aio.AioRpcError as err:
            raise Unavailable("the pricing catalog could not be read; retry") from err
        by_feature: dict[str, list[PackOffer]] = {}
        for pack in packs:
            for feature in pack.features:
                by_feature.setdefault(feature, []).append(pack_offer(pack))
        return Catalog(
            packs_by_feature=by_feature,
            quotas={
                q.key: QuotaDef(
                    q.key, q.limit, _PERIODS.get(q.period, Period.DAILY), q.time_zone, q.lifted_by_feature
                )
                for q in quotas.quotas
            },
        )

    async def _all_packs(self) -> list[pricing_pb2.Pack]:
        packs: list[pricing_pb2.Pack] = []
        token = ""
        while True:
            page = await self._stub.ListPacks(pricing_pb2.ListPacksRequest(page_size=100, page_token=token))
            packs.extend(page.packs)
            token = page.next_page_token
            if not token:
                return packs

    async def record_usage(self, user_id: str, quota: str, request_id: str) -> QuotaState:
        request = pricing_pb2.RecordQuotaUsageRequest(
            user=f"users/{user_id}", quota=quota, request_id=request_id
        )
        try:
            return quota_state(await self._stub.RecordQuotaUsage(request))
        except grpc.aio.AioRpcError as err:
            raise Unavailable("quota usage could not be recorded") from err
