"""Entitlement use cases: granting and revoking what orders bought, checks for the gate, quotas, expiry."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from hisaab.events.v1 import events_pb2 as ev

from libs.clients.features.windows import window
from libs.clock import Clock, now
from libs.db.unit_of_work import UnitOfWork
from services.pricing import domain
from services.pricing.domain import Grant, Order, Quota
from services.pricing.ports import PricingRepositories


class Invalidator(Protocol):
    async def invalidate(self, *user_ids: str) -> None:
        """Drops the cached entitlements of these users (fail-open)."""


@dataclass(frozen=True)
class Usage:
    key: str
    limit: int
    used: int
    reset_time: datetime
    unlimited: bool

    @property
    def allowed(self) -> bool:
        return self.unlimited or self.used < self.limit


@dataclass(frozen=True)
class Check:
    held: dict[str, datetime | None]  # feature -> when continuous coverage ends (None: never)
    expire_time: datetime | None
    quotas: list[Usage]


class EntitlementUseCases:
    def __init__(self, uow: UnitOfWork[PricingRepositories], cache: Invalidator, *, clock: Clock = now):
        self._uow = uow
        self._cache = cache
        self.now = clock

    async def invalidate(self, *user_ids: str) -> None:
        if user_ids:
            await self._cache.invalidate(*user_ids)

    # --- inside a purchase's transaction ---

    async def grant_order(self, repos: PricingRepositories, order: Order, now: datetime) -> None:
        await repos.lock_user(order.user_id)
        existing = await repos.live_grants(order.user_id, now)
        for feature in order.features:
            start, expire = domain.next_grant_window(existing, feature, order.duration, now)
            grant = Grant(str(uuid.uuid4()), order.user_id, feature, order.pack_key, order.id, start, expire)
            if await repos.insert_grant(grant):
                existing.append(grant)
        completed = ev.PurchaseCompleted(
            order=order.id, user=order.user_id, pack=order.pack_key, features=list(order.features)
        )
        await repos.outbox.record(completed, order.name, actor=order.user_id)

    async def revoke_order(self, repos: PricingRepositories, order: Order, now: datetime) -> None:
        await repos.lock_user(order.user_id)
        revoked = await repos.revoke_order_grants(order.id, now)
        refunded = ev.PurchaseRefunded(
            order=order.id, user=order.user_id, pack=order.pack_key, revoked=revoked
        )
        await repos.outbox.record(refunded, order.name)

    # --- reads ---

    async def check(self, user_id: str, features: Sequence[str], quotas: Sequence[str]) -> Check:
        now = self.now()
        # The writer, not a reader replica: a gate right after a purchase must see it.
        async with self._uow.transaction() as repos:
            grants = await repos.live_grants(user_id, now)
            held = domain.held_features(grants, now)
            usages = []
            for key in quotas:
                quota = await repos.get_quota(key)
                if quota is not None:
                    usages.append(await self._usage_of(repos, user_id, quota, held, now))
        if features:
            held = {f: held[f] for f in features if f in held}
        return Check(held, domain.expire_time(grants, now), usages)

    async def _usage_of(
        self, repos: PricingRepositories, user_id: str, quota: Quota, held: dict[str, Any], now: datetime
    ) -> Usage:
        win = window(quota.period, quota.time_zone, now)
        used = await repos.count_usage(user_id, quota.key, win.start)
        unlimited = bool(quota.lifted_by_feature) and quota.lifted_by_feature in held
        return Usage(quota.key, quota.limit, used, win.reset, unlimited)

    async def my_features(self, user_id: str) -> tuple[dict[str, datetime | None], list[Usage]]:
        now = self.now()
        async with self._uow.transaction() as repos:
            grants = await repos.live_grants(user_id, now)
            held = domain.held_features(grants, now)
            quotas = await repos.list_quotas(after=None, limit=1000)
            usages = [await self._usage_of(repos, user_id, q, held, now) for q in quotas]
        return held, usages

    async def list_mine(
        self, user_id: str, *, show_inactive: bool, after: list[Any] | None, limit: int
    ) -> tuple[list[Grant], datetime]:
        now = self.now()
        async with self._uow.read() as repos:
            grants = await repos.list_grants(
                user_id, now=now, show_inactive=show_inactive, after=after, limit=limit
            )
        return grants, now

    # --- writes ---

    async def record_usage(self, user_id: str, quota_key: str, request_id: str) -> Usage | None:
        now = self.now()
        async with self._uow.transaction() as repos:
            quota = await repos.get_quota(quota_key)
            if quota is None:
                return None
            win = window(quota.period, quota.time_zone, now)
            await repos.record_usage(user_id, quota_key, request_id, win.start)
            held = domain.held_features(await repos.live_grants(user_id, now), now)
            return await self._usage_of(repos, user_id, quota, held, now)

    async def expire(self, now: datetime | None = None) -> tuple[int, list[str]]:
        """Ends grants past their end; one event per user who lost a feature. Safe to run late or twice.

        A grant that ends where a renewal starts is marked expired too, but the
        user keeps the feature, so there is no event and no cache change for it.
        """
        now = now or self.now()
        lapsed: dict[str, list[str]] = {}
        async with self._uow.transaction() as repos:
            ended = await repos.expire_due(now)
            by_user: dict[str, set[str]] = {}
            for user_id, feature in ended:
                by_user.setdefault(user_id, set()).add(feature)
            for user_id, features in sorted(by_user.items()):
                held = domain.held_features(await repos.live_grants(user_id, now), now)
                gone = sorted(features - set(held))
                if not gone:
                    continue
                lapsed[user_id] = gone
                expired = ev.EntitlementsExpired(user=user_id, features=gone)
                expired.expire_time.FromDatetime(now)
                await repos.outbox.record(expired, f"users/{user_id}")
        users = sorted(lapsed)
        await self.invalidate(*users)
        return len(ended), users
