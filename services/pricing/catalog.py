"""Catalog use cases: what is on sale and the free-tier limits; changed by admins without a deploy."""

from __future__ import annotations

from typing import Any

from libs.clients.features.windows import zone
from libs.db.unit_of_work import UnitOfWork
from libs.errors import InvalidArgument, NotFound
from services.pricing import domain
from services.pricing.domain import Feature, Pack, Quota
from services.pricing.ports import PricingRepositories


class CatalogUseCases:
    def __init__(self, uow: UnitOfWork[PricingRepositories]):
        self._uow = uow

    async def features(self, *, after: str | None, limit: int) -> list[Feature]:
        async with self._uow.read() as repos:
            return await repos.list_features(after=after, limit=limit)

    async def packs(self, *, after: list[Any] | None, limit: int) -> list[Pack]:
        async with self._uow.read() as repos:
            return await repos.list_packs(active_only=True, after=after, limit=limit)

    async def quotas(self, *, after: str | None, limit: int) -> list[Quota]:
        async with self._uow.read() as repos:
            return await repos.list_quotas(after=after, limit=limit)

    async def upsert_feature(self, feature: Feature) -> Feature:
        domain.validate_key(feature.key, "feature.key")
        if not feature.display_name:
            raise InvalidArgument("feature.display_name", "is required")
        async with self._uow.transaction() as repos:
            return await repos.upsert_feature(feature)

    async def upsert_pack(self, pack: Pack) -> Pack:
        domain.validate_key(pack.key, "pack.key")
        if not pack.display_name:
            raise InvalidArgument("pack.display_name", "is required")
        if not pack.features:
            raise InvalidArgument("pack.features", "a pack grants at least one feature")
        if pack.price_inr_minor <= 0:
            raise InvalidArgument("pack.price", "must be a positive INR amount in paise")
        if any(v <= 0 for v in pack.other_prices.values()):
            raise InvalidArgument("pack.other_prices", "amounts must be positive")
        if pack.duration is not None and pack.duration.total_seconds() < 60:
            raise InvalidArgument("pack.duration", "at least a minute, or unset for life")
        async with self._uow.transaction() as repos:
            missing = await repos.missing_features(pack.features)
            if missing:
                raise InvalidArgument("pack.features", f"unknown features: {', '.join(missing)}")
            return await repos.upsert_pack(pack)

    async def deactivate_pack(self, key: str) -> Pack:
        async with self._uow.transaction() as repos:
            pack = await repos.deactivate_pack(key)
        if pack is None:
            raise NotFound("pack not found")
        return pack

    async def upsert_quota(self, quota: Quota) -> Quota:
        domain.validate_key(quota.key, "quota.key")
        if quota.limit < 0:
            raise InvalidArgument("quota.limit", "must not be negative")
        try:
            zone(quota.time_zone)
        except ValueError:
            raise InvalidArgument("quota.time_zone", "must be an IANA time zone") from None
        async with self._uow.transaction() as repos:
            if quota.lifted_by_feature and await repos.missing_features([quota.lifted_by_feature]):
                raise InvalidArgument("quota.lifted_by_feature", "unknown feature")
            return await repos.upsert_quota(quota)
