"""In-memory pricing repositories: the same rules as repository.SqlPricingRepositories
(ordering, keyset pages, one grant per order and feature, one use per request id)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from libs import clock
from libs.db.repositories import MemoryRepositories
from libs.validation import is_uuid
from services.pricing.domain import Feature, Grant, Order, OrderState, Pack, ProviderKind, Quota

# Sorts after every expiry, as 'infinity' does in PostgreSQL.
_NEVER = datetime.max.replace(tzinfo=clock.now().tzinfo)


class MemoryPricingRepositories(MemoryRepositories):
    def __init__(self) -> None:
        super().__init__()
        self.features: dict[str, Feature] = {}
        self.packs: dict[str, Pack] = {}
        self.quotas: dict[str, Quota] = {}
        self.orders: dict[str, Order] = {}
        self.grants: dict[str, Grant] = {}
        # grant id → when it was marked expired
        self.expired: dict[str, datetime] = {}
        # (user, quota, window start) → request ids counted
        self.usage: dict[tuple[str, str, datetime], set[str]] = {}
        self.webhook_events: set[tuple[str, str]] = set()
        self.locked_users: list[str] = []

    # --- catalog

    async def list_features(self, *, after: str | None, limit: int) -> list[Feature]:
        return [self.features[k] for k in sorted(self.features) if after is None or k > after][:limit]

    async def missing_features(self, keys: Sequence[str]) -> list[str]:
        return sorted(set(keys) - set(self.features))

    async def upsert_feature(self, feature: Feature) -> Feature:
        self.features[feature.key] = replace(feature, updated_at=clock.now())
        return self.features[feature.key]

    async def list_packs(self, *, active_only: bool, after: list[Any] | None, limit: int) -> list[Pack]:
        found = sorted(
            (p for p in self.packs.values() if p.active or not active_only),
            key=lambda p: (p.sort_order, p.key),
        )
        if after:
            found = [p for p in found if (p.sort_order, p.key) > (int(after[0]), str(after[1]))]
        return found[:limit]

    async def get_pack(self, key: str) -> Pack | None:
        return self.packs.get(key)

    async def upsert_pack(self, pack: Pack) -> Pack:
        self.packs[pack.key] = replace(pack, active=True, updated_at=clock.now())
        return self.packs[pack.key]

    async def deactivate_pack(self, key: str) -> Pack | None:
        if key not in self.packs:
            return None
        self.packs[key] = replace(self.packs[key], active=False, updated_at=clock.now())
        return self.packs[key]

    async def list_quotas(self, *, after: str | None, limit: int) -> list[Quota]:
        return [self.quotas[k] for k in sorted(self.quotas) if after is None or k > after][:limit]

    async def get_quota(self, key: str) -> Quota | None:
        return self.quotas.get(key)

    async def upsert_quota(self, quota: Quota) -> Quota:
        self.quotas[quota.key] = replace(quota, updated_at=clock.now())
        return self.quotas[quota.key]

    # --- orders

    async def insert_order(self, order: Order) -> Order:
        self.orders[order.id] = order
        return order

    async def get_order(self, order_id: str, *, lock: bool = False) -> Order | None:
        return self.orders.get(order_id) if is_uuid(order_id) else None

    async def order_by_provider_id(
        self, provider: ProviderKind, provider_order_id: str, *, lock: bool = False
    ) -> Order | None:
        return next(
            (
                o
                for o in self.orders.values()
                if o.provider is provider and o.provider_order_id == provider_order_id
            ),
            None,
        )

    async def order_by_payment_id(
        self, provider: ProviderKind, payment_id: str, *, lock: bool = False
    ) -> Order | None:
        return next(
            (
                o
                for o in self.orders.values()
                if o.provider is provider and o.provider_payment_id == payment_id
            ),
            None,
        )

    async def set_order_state(
        self,
        order_id: str,
        state: OrderState,
        *,
        payment_id: str | None = None,
        failure_reason: str | None = None,
        paid_at: datetime | None = None,
    ) -> Order:
        old = self.orders[order_id]
        self.orders[order_id] = replace(
            old,
            state=state,
            provider_payment_id=old.provider_payment_id if payment_id is None else payment_id,
            failure_reason=old.failure_reason if failure_reason is None else failure_reason,
            paid_at=old.paid_at if paid_at is None else paid_at,
            updated_at=clock.now(),
        )
        return self.orders[order_id]

    async def list_orders(self, user_id: str, *, after: list[Any] | None, limit: int) -> list[Order]:
        found = sorted(
            (o for o in self.orders.values() if o.user_id == user_id),
            key=lambda o: (o.created_at, o.id),
            reverse=True,
        )
        if after:
            bound = (datetime.fromisoformat(after[0]), str(after[1]))
            found = [o for o in found if (o.created_at, o.id) < bound]
        return found[:limit]

    # --- entitlements

    async def lock_user(self, user_id: str) -> None:
        self.locked_users.append(user_id)

    async def live_grants(self, user_id: str, now: datetime) -> list[Grant]:
        return [
            g
            for g in self.grants.values()
            if g.user_id == user_id and g.revoked_at is None and (g.expire is None or g.expire > now)
        ]

    async def insert_grant(self, grant: Grant) -> bool:
        if any(g.order_id == grant.order_id and g.feature == grant.feature for g in self.grants.values()):
            return False
        self.grants[grant.id] = grant
        return True

    async def revoke_order_grants(self, order_id: str, now: datetime) -> int:
        revoked = [g for g in self.grants.values() if g.order_id == order_id and g.revoked_at is None]
        for g in revoked:
            self.grants[g.id] = replace(g, revoked_at=now)
        return len(revoked)

    async def list_grants(
        self,
        user_id: str,
        *,
        now: datetime,
        show_inactive: bool,
        after: list[Any] | None,
        limit: int,
    ) -> list[Grant]:
        def key(g: Grant) -> tuple[datetime, str]:
            return (g.expire or _NEVER, g.id)

        found = [
            g
            for g in self.grants.values()
            if g.user_id == user_id
            and (show_inactive or (g.revoked_at is None and (g.expire is None or g.expire > now)))
        ]
        if after:
            bound = (_NEVER if after[0] == "infinity" else datetime.fromisoformat(after[0]), str(after[1]))
            found = [g for g in found if key(g) < bound]
        return sorted(found, key=key, reverse=True)[:limit]

    async def expire_due(self, now: datetime) -> list[tuple[str, str]]:
        due = [
            g
            for g in self.grants.values()
            if g.id not in self.expired and g.revoked_at is None and g.expire is not None and g.expire <= now
        ]
        for g in due:
            self.expired[g.id] = now
        return [(g.user_id, g.feature) for g in due]

    # --- quota usage

    async def record_usage(
        self, user_id: str, quota_key: str, request_id: str, window_start: datetime
    ) -> None:
        self.usage.setdefault((user_id, quota_key, window_start), set()).add(request_id)

    async def count_usage(self, user_id: str, quota_key: str, window_start: datetime) -> int:
        return len(self.usage.get((user_id, quota_key, window_start), set()))

    # --- webhooks

    async def claim_webhook_event(self, provider: ProviderKind, event_id: str, event_type: str) -> bool:
        if (provider.value, event_id) in self.webhook_events:
            return False
        self.webhook_events.add((provider.value, event_id))
        return True
