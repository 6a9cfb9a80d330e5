"""What pricing-service's use cases need from storage, as an interface (the SQL adapter is
repository.SqlPricingRepositories; tests use an in-memory one)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from libs.idempotency import Keys
from libs.outbox import Outbox
from services.pricing.domain import Feature, Grant, Order, OrderState, Pack, ProviderKind, Quota


class PricingRepositories(Protocol):
    """The catalog, orders, grants, quota usage and webhook events, in one unit of work."""

    @property
    def keys(self) -> Keys: ...

    @property
    def outbox(self) -> Outbox: ...

    # --- catalog: pages ordered by key (packs by sort order, then key), after the last one seen

    async def list_features(self, *, after: str | None, limit: int) -> list[Feature]: ...

    async def missing_features(self, keys: Sequence[str]) -> list[str]:
        """The keys among ``keys`` that name no feature, sorted."""

    async def upsert_feature(self, feature: Feature) -> Feature: ...

    async def list_packs(self, *, active_only: bool, after: list[Any] | None, limit: int) -> list[Pack]: ...

    async def get_pack(self, key: str) -> Pack | None: ...

    async def upsert_pack(self, pack: Pack) -> Pack:
        """Creates or replaces the pack, on sale again if it was not."""

    async def deactivate_pack(self, key: str) -> Pack | None:
        """Takes it off sale; None when there is no such pack."""

    async def list_quotas(self, *, after: str | None, limit: int) -> list[Quota]: ...

    async def get_quota(self, key: str) -> Quota | None: ...

    async def upsert_quota(self, quota: Quota) -> Quota: ...

    # --- orders: ``lock`` holds the order until the unit of work ends

    async def insert_order(self, order: Order) -> Order: ...

    async def get_order(self, order_id: str, *, lock: bool = False) -> Order | None:
        """None for an unknown id, or one that is not a UUID."""

    async def order_by_provider_id(
        self, provider: ProviderKind, provider_order_id: str, *, lock: bool = False
    ) -> Order | None: ...

    async def order_by_payment_id(
        self, provider: ProviderKind, payment_id: str, *, lock: bool = False
    ) -> Order | None: ...

    async def set_order_state(
        self,
        order_id: str,
        state: OrderState,
        *,
        payment_id: str | None = None,
        failure_reason: str | None = None,
        paid_at: datetime | None = None,
    ) -> Order:
        """The new state; the other fields change only when given."""

    async def list_orders(self, user_id: str, *, after: list[Any] | None, limit: int) -> list[Order]:
        """Newest first; ``after`` is the (created_at, id) of the previous page's last order."""

    # --- entitlements

    async def lock_user(self, user_id: str) -> None:
        """Serialises grant changes of one user (renewals read the current chain, then extend it)."""

    async def live_grants(self, user_id: str, now: datetime) -> list[Grant]:
        """Grants that are current or still to come: the ones that decide what the user holds."""

    async def insert_grant(self, grant: Grant) -> bool:
        """False when this order already granted this feature."""

    async def revoke_order_grants(self, order_id: str, now: datetime) -> int:
        """Revokes the order's grants not revoked yet; how many."""

    async def list_grants(
        self,
        user_id: str,
        *,
        now: datetime,
        show_inactive: bool,
        after: list[Any] | None,
        limit: int,
    ) -> list[Grant]:
        """Latest expiry first (never-expiring on top), then id descending; live ones only
        unless ``show_inactive``."""

    async def expire_due(self, now: datetime) -> list[tuple[str, str]]:
        """Marks grants past their end as expired; (user_id, feature) of each, at most once per grant."""

    # --- quota usage

    async def record_usage(
        self, user_id: str, quota_key: str, request_id: str, window_start: datetime
    ) -> None:
        """Counts one use per request id: a repeated id counts once."""

    async def count_usage(self, user_id: str, quota_key: str, window_start: datetime) -> int: ...

    # --- webhooks

    async def claim_webhook_event(self, provider: ProviderKind, event_id: str, event_type: str) -> bool:
        """False when this event was processed before (providers retry and may deliver twice)."""
