"""The pricing tables with SQLAlchemy Core: SqlPricingRepositories, bound to one transaction."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text

from libs.clients.features.windows import Period
from libs.db.repositories import SqlRepositories
from libs.validation import is_uuid
from services.pricing.domain import Feature, Grant, Order, OrderState, Pack, ProviderKind, Quota


def _seconds(value: timedelta | None) -> int | None:
    return None if value is None else int(value.total_seconds())


def _duration(seconds: int | None) -> timedelta | None:
    return None if seconds is None else timedelta(seconds=int(seconds))


# --- catalog ------------------------------------------------------------------


def _feature(row: Any) -> Feature:
    return Feature(row.key, row.display_name, row.description, row.updated_at)


def _pack(row: Any) -> Pack:
    return Pack(
        key=row.key,
        display_name=row.display_name,
        description=row.description,
        features=tuple(row.features),
        duration=_duration(row.duration_seconds),
        price_inr_minor=int(row.price_inr_minor),
        other_prices={str(k): int(v) for k, v in (row.other_prices or {}).items()},
        active=row.active,
        sort_order=row.sort_order,
        google_play_product_id=row.google_play_product_id,
        app_store_product_id=row.app_store_product_id,
        updated_at=row.updated_at,
    )


def _quota(row: Any) -> Quota:
    return Quota(
        key=row.key,
        display_name=row.display_name,
        limit=int(row.limit),
        period=Period(row.period),
        time_zone=row.time_zone,
        lifted_by_feature=row.lifted_by_feature,
        updated_at=row.updated_at,
    )


# --- orders -------------------------------------------------------------------


def _order(row: Any) -> Order:
    return Order(
        id=str(row.id),
        user_id=row.user_id,
        pack_key=row.pack_key,
        features=tuple(row.features),
        duration=_duration(row.duration_seconds),
        provider=ProviderKind(row.provider),
        provider_order_id=row.provider_order_id,
        currency=row.currency,
        amount_minor=int(row.amount_minor),
        state=OrderState(row.state),
        checkout_params={str(k): str(v) for k, v in (row.checkout_params or {}).items()},
        provider_payment_id=row.provider_payment_id,
        failure_reason=row.failure_reason,
        created_at=row.created_at,
        paid_at=row.paid_at,
        updated_at=row.updated_at,
    )


# --- entitlements -----------------------------------------------------------------


def _grant(row: Any) -> Grant:
    return Grant(
        id=str(row.id),
        user_id=row.user_id,
        feature=row.feature_key,
        pack_key=row.pack_key,
        order_id=str(row.order_id) if row.order_id else None,
        start=row.start_time,
        expire=row.expire_time,
        revoked_at=row.revoked_at,
    )


class SqlPricingRepositories(SqlRepositories):
    """The pricing schema on one transaction's connection: the SQL adapter of ports.PricingRepositories."""

    # --- catalog

    async def list_features(self, *, after: str | None, limit: int) -> list[Feature]:
        rows = await self.conn.execute(
            text(
                "SELECT * FROM pricing.features WHERE (CAST(:after AS text) IS NULL OR key > :after) "
                "ORDER BY key LIMIT :limit"
            ),
            {"after": after, "limit": limit},
        )
        return [_feature(r) for r in rows]

    async def missing_features(self, keys: Sequence[str]) -> list[str]:
        rows = await self.conn.execute(
            text("SELECT key FROM pricing.features WHERE key = ANY(:keys)"), {"keys": list(keys)}
        )
        found = {r.key for r in rows}
        return sorted(set(keys) - found)

    async def upsert_feature(self, feature: Feature) -> Feature:
        row = (
            await self.conn.execute(
                text(
                    "INSERT INTO pricing.features (key, display_name, description) VALUES (:key, :name, "
                    ":desc) "
                    "ON CONFLICT (key) DO UPDATE SET display_name = EXCLUDED.display_name, "
                    "description = EXCLUDED.description, updated_at = now() RETURNING *"
                ),
                {"key": feature.key, "name": feature.display_name, "desc": feature.description},
            )
        ).one()
        return _feature(row)

    async def list_packs(self, *, active_only: bool, after: list[Any] | None, limit: int) -> list[Pack]:
        where = ["active"] if active_only else ["TRUE"]
        params: dict[str, Any] = {"limit": limit}
        if after:
            where.append("(sort_order, key) > (:after_order, :after_key)")
            params |= {"after_order": int(after[0]), "after_key": str(after[1])}
        rows = await self.conn.execute(
            text(
                "SELECT * FROM pricing.packs WHERE "
                + " AND ".join(where)
                + " ORDER BY sort_order, key LIMIT :limit"
            ),
            params,
        )
        return [_pack(r) for r in rows]

    async def get_pack(self, key: str) -> Pack | None:
        row = (
            await self.conn.execute(text("SELECT * FROM pricing.packs WHERE key = :key"), {"key": key})
        ).first()
        return _pack(row) if row else None

    async def upsert_pack(self, pack: Pack) -> Pack:
        row = (
            await self.conn.execute(
                text(
                    "INSERT INTO pricing.packs (key, display_name, description, features, duration_seconds, "
                    "price_inr_minor, other_prices, active, sort_order, google_play_product_id, "
                    "app_store_product_id) VALUES (:key, :name, :desc, :features, :dur, :price, "
                    "CAST(:other AS jsonb), true, :sort, :gp, :as_) "
                    "ON CONFLICT (key) DO UPDATE SET display_name = EXCLUDED.display_name, "
                    "description = EXCLUDED.description, features = EXCLUDED.features, "
                    "duration_seconds = EXCLUDED.duration_seconds, price_inr_minor = "
                    "EXCLUDED.price_inr_minor, "
                    "other_prices = EXCLUDED.other_prices, active = true, sort_order = EXCLUDED.sort_order, "
                    "google_play_product_id = EXCLUDED.google_play_product_id, "
                    "app_store_product_id = EXCLUDED.app_store_product_id, updated_at = now() RETURNING *"
                ),
                {
                    "key": pack.key,
                    "name": pack.display_name,
                    "desc": pack.description,
                    "features": list(pack.features),
                    "dur": _seconds(pack.duration),
                    "price": pack.price_inr_minor,
                    "other": json.dumps(dict(pack.other_prices)),
                    "sort": pack.sort_order,
                    "gp": pack.google_play_product_id,
                    "as_": pack.app_store_product_id,
                },
            )
        ).one()
        return _pack(row)

    async def deactivate_pack(self, key: str) -> Pack | None:
        row = (
            await self.conn.execute(
                text(
                    "UPDATE pricing.packs SET active = false, updated_at = now() WHERE key = :key RETURNING *"
                ),
                {"key": key},
            )
        ).first()
        return _pack(row) if row else None

    async def list_quotas(self, *, after: str | None, limit: int) -> list[Quota]:
        rows = await self.conn.execute(
            text(
                "SELECT * FROM pricing.quotas WHERE (CAST(:after AS text) IS NULL OR key > :after) "
                "ORDER BY key LIMIT :limit"
            ),
            {"after": after, "limit": limit},
        )
        return [_quota(r) for r in rows]

    async def get_quota(self, key: str) -> Quota | None:
        row = (
            await self.conn.execute(text("SELECT * FROM pricing.quotas WHERE key = :key"), {"key": key})
        ).first()
        return _quota(row) if row else None

    async def upsert_quota(self, quota: Quota) -> Quota:
        row = (
            await self.conn.execute(
                text(
                    'INSERT INTO pricing.quotas (key, display_name, "limit", period, time_zone, '
                    "lifted_by_feature) VALUES (:key, :name, :limit, :period, :tz, :lifted) "
                    "ON CONFLICT (key) DO UPDATE SET display_name = EXCLUDED.display_name, "
                    '"limit" = EXCLUDED."limit", period = EXCLUDED.period, time_zone = EXCLUDED.time_zone, '
                    "lifted_by_feature = EXCLUDED.lifted_by_feature, updated_at = now() RETURNING *"
                ),
                {
                    "key": quota.key,
                    "name": quota.display_name,
                    "limit": quota.limit,
                    "period": quota.period.value,
                    "tz": quota.time_zone,
                    "lifted": quota.lifted_by_feature,
                },
            )
        ).one()
        return _quota(row)

    # --- orders

    async def insert_order(self, order: Order) -> Order:
        row = (
            await self.conn.execute(
                text(
                    "INSERT INTO pricing.orders (id, user_id, pack_key, features, duration_seconds, "
                    "provider, "
                    "provider_order_id, currency, amount_minor, state, checkout_params) VALUES (:id, :user, "
                    ":pack, :features, :dur, :provider, :poid, :cur, :amount, :state, CAST(:params AS "
                    "jsonb)) "
                    "RETURNING *"
                ),
                {
                    "id": order.id,
                    "user": order.user_id,
                    "pack": order.pack_key,
                    "features": list(order.features),
                    "dur": _seconds(order.duration),
                    "provider": order.provider.value,
                    "poid": order.provider_order_id,
                    "cur": order.currency,
                    "amount": order.amount_minor,
                    "state": order.state.value,
                    "params": json.dumps(dict(order.checkout_params)),
                },
            )
        ).one()
        return _order(row)

    async def get_order(self, order_id: str, *, lock: bool = False) -> Order | None:
        if not is_uuid(order_id):
            return None
        sql = "SELECT * FROM pricing.orders WHERE id = :id" + (" FOR UPDATE" if lock else "")
        row = (await self.conn.execute(text(sql), {"id": order_id})).first()
        return _order(row) if row else None

    async def order_by_provider_id(
        self, provider: ProviderKind, provider_order_id: str, *, lock: bool = False
    ) -> Order | None:
        sql = "SELECT * FROM pricing.orders WHERE provider = :p AND provider_order_id = :poid" + (
            " FOR UPDATE" if lock else ""
        )
        row = (await self.conn.execute(text(sql), {"p": provider.value, "poid": provider_order_id})).first()
        return _order(row) if row else None

    async def order_by_payment_id(
        self, provider: ProviderKind, payment_id: str, *, lock: bool = False
    ) -> Order | None:
        sql = "SELECT * FROM pricing.orders WHERE provider = :p AND provider_payment_id = :pay" + (
            " FOR UPDATE" if lock else ""
        )
        row = (await self.conn.execute(text(sql), {"p": provider.value, "pay": payment_id})).first()
        return _order(row) if row else None

    async def set_order_state(
        self,
        order_id: str,
        state: OrderState,
        *,
        payment_id: str | None = None,
        failure_reason: str | None = None,
        paid_at: datetime | None = None,
    ) -> Order:
        row = (
            await self.conn.execute(
                text(
                    "UPDATE pricing.orders SET state = :state, "
                    "provider_payment_id = COALESCE(:pay, provider_payment_id), "
                    "failure_reason = COALESCE(:reason, failure_reason), "
                    "paid_at = COALESCE(:paid, paid_at), updated_at = now() WHERE id = :id RETURNING *"
                ),
                {
                    "state": state.value,
                    "pay": payment_id,
                    "reason": failure_reason,
                    "paid": paid_at,
                    "id": order_id,
                },
            )
        ).one()
        return _order(row)

    async def list_orders(self, user_id: str, *, after: list[Any] | None, limit: int) -> list[Order]:
        where = ["user_id = :user"]
        params: dict[str, Any] = {"user": user_id, "limit": limit}
        if after:
            where.append("(created_at, id) < (CAST(:after_ts AS timestamptz), CAST(:after_id AS uuid))")
            params |= {"after_ts": after[0], "after_id": after[1]}
        rows = await self.conn.execute(
            text(
                "SELECT * FROM pricing.orders WHERE "
                + " AND ".join(where)
                + " ORDER BY created_at DESC, id DESC LIMIT :limit"
            ),
            params,
        )
        return [_order(r) for r in rows]

    # --- entitlements

    async def lock_user(self, user_id: str) -> None:
        """Serialises grant changes of one user (renewals read the current chain, then extend it)."""
        await self.conn.execute(
            text("SELECT pg_advisory_xact_lock(hashtext('pricing.user_features'), hashtext(:user))"),
            {"user": user_id},
        )

    async def live_grants(self, user_id: str, now: datetime) -> list[Grant]:
        """Grants that are current or still to come: the ones that decide what the user holds."""
        rows = await self.conn.execute(
            text(
                "SELECT * FROM pricing.user_features WHERE user_id = :user AND revoked_at IS NULL "
                "AND (expire_time IS NULL OR expire_time > :now)"
            ),
            {"user": user_id, "now": now},
        )
        return [_grant(r) for r in rows]

    async def insert_grant(self, grant: Grant) -> bool:
        """False when this order already granted this feature."""
        inserted = await self.conn.execute(
            text(
                "INSERT INTO pricing.user_features (id, user_id, feature_key, pack_key, order_id, "
                "start_time, "
                "expire_time) VALUES (:id, :user, :feature, :pack, :order, :start, :expire) "
                "ON CONFLICT (order_id, feature_key) DO NOTHING RETURNING 1"
            ),
            {
                "id": grant.id,
                "user": grant.user_id,
                "feature": grant.feature,
                "pack": grant.pack_key,
                "order": grant.order_id,
                "start": grant.start,
                "expire": grant.expire,
            },
        )
        return inserted.first() is not None

    async def revoke_order_grants(self, order_id: str, now: datetime) -> int:
        result = await self.conn.execute(
            text(
                "UPDATE pricing.user_features SET revoked_at = :now "
                "WHERE order_id = :order AND revoked_at IS NULL RETURNING 1"
            ),
            {"now": now, "order": order_id},
        )
        return len(result.fetchall())

    async def list_grants(
        self,
        user_id: str,
        *,
        now: datetime,
        show_inactive: bool,
        after: list[Any] | None,
        limit: int,
    ) -> list[Grant]:
        where = ["user_id = :user"]
        params: dict[str, Any] = {"user": user_id, "now": now, "limit": limit}
        if not show_inactive:
            where.append("revoked_at IS NULL AND (expire_time IS NULL OR expire_time > :now)")
        if after:
            where.append(
                "(COALESCE(expire_time, 'infinity'::timestamptz), id) < "
                "(CAST(:after_exp AS timestamptz), CAST(:after_id AS uuid))"
            )
            params |= {"after_exp": after[0], "after_id": after[1]}
        # Current ones first: the latest expiry (never-expiring first) on top.
        rows = await self.conn.execute(
            text(
                "SELECT * FROM pricing.user_features WHERE "
                + " AND ".join(where)
                + " ORDER BY COALESCE(expire_time, 'infinity'::timestamptz) DESC, id DESC LIMIT :limit"
            ),
            params,
        )
        return [_grant(r) for r in rows]

    async def expire_due(self, now: datetime) -> list[tuple[str, str]]:
        """Marks grants past their end as expired; (user_id, feature) of each, at most once per grant."""
        rows = await self.conn.execute(
            text(
                "UPDATE pricing.user_features SET expired_at = :now "
                "WHERE expired_at IS NULL AND revoked_at IS NULL "
                "AND expire_time IS NOT NULL AND expire_time <= :now RETURNING user_id, feature_key"
            ),
            {"now": now},
        )
        return [(r.user_id, r.feature_key) for r in rows]

    # --- quota usage

    async def record_usage(
        self, user_id: str, quota_key: str, request_id: str, window_start: datetime
    ) -> None:
        await self.conn.execute(
            text(
                "INSERT INTO pricing.quota_usage (user_id, quota_key, request_id, window_start) "
                "VALUES (:user, :key, :rid, :ws) ON CONFLICT DO NOTHING"
            ),
            {"user": user_id, "key": quota_key, "rid": request_id, "ws": window_start},
        )

    async def count_usage(self, user_id: str, quota_key: str, window_start: datetime) -> int:
        row = (
            await self.conn.execute(
                text(
                    "SELECT count(*) AS n FROM pricing.quota_usage "
                    "WHERE user_id = :user AND quota_key = :key AND window_start = :ws"
                ),
                {"user": user_id, "key": quota_key, "ws": window_start},
            )
        ).one()
        return int(row.n)

    # --- webhooks

    async def claim_webhook_event(self, provider: ProviderKind, event_id: str, event_type: str) -> bool:
        """False when this event was processed before (providers retry and may deliver twice)."""
        claimed = await self.conn.execute(
            text(
                "INSERT INTO pricing.webhook_events (provider, event_id, event_type) VALUES (:p, :id, :type) "
                "ON CONFLICT DO NOTHING RETURNING 1"
            ),
            {"p": provider.value, "id": event_id, "type": event_type},
        )
        return claimed.first() is not None
