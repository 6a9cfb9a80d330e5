"""Purchases on real PostgreSQL: Razorpay webhooks (verified, idempotent, replay- and race-safe),
refunds revoke, re-buying extends, and the expiry job with its event."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from libs.db.database import Database
from libs.db.unit_of_work import SqlUnitOfWork
from libs.errors import InvalidArgument, Unauthenticated
from services.pricing.catalog import CatalogUseCases
from services.pricing.domain import OrderState, Pack, ProviderKind
from services.pricing.entitlements import EntitlementUseCases
from services.pricing.providers.dev import DevProvider
from services.pricing.providers.razorpay import RazorpayProvider
from services.pricing.purchases import PurchaseUseCases
from services.pricing.repository import SqlPricingRepositories

pytestmark = [pytest.mark.integration, pytest.mark.clock]

KEY_SECRET = "key-secret-for-db-tests"
WEBHOOK_SECRET = "webhook-secret-for-db-tests"
TRIP_FEATURES = {"receipts", "currency_conversion", "unlimited_expenses", "export_pdf"}


class FakeRazorpayApi:
    def __init__(self) -> None:
        self.opened = 0

    async def __call__(self, url: str, headers: Mapping[str, str], body: bytes) -> tuple[int, bytes]:
        self.opened += 1
        return 200, json.dumps({"id": f"order_{uuid.uuid4().hex[:14]}"}).encode()


class RecordingCache:
    def __init__(self) -> None:
        self.invalidated: list[str] = []

    async def invalidate(self, *user_ids: str) -> None:
        self.invalidated.extend(user_ids)


class World:
    def __init__(self, db: Database, clock: list[datetime]):
        self.db = db
        self.uow = SqlUnitOfWork(db, SqlPricingRepositories)
        self.clock = clock
        self.cache = RecordingCache()
        self.entitlements = EntitlementUseCases(self.uow, self.cache, clock=lambda: clock[0])
        self.api = FakeRazorpayApi()
        self.purchases = PurchaseUseCases(
            self.uow,
            self.entitlements,
            {
                ProviderKind.RAZORPAY: RazorpayProvider("rzp_test_1", KEY_SECRET, post=self.api),
                ProviderKind.DEV: DevProvider(),
            },
            razorpay_webhook_secret=WEBHOOK_SECRET,
        )

    async def order(
        self, user: str, pack: str = "trip_7d", kind: ProviderKind = ProviderKind.RAZORPAY
    ) -> Any:
        async with self.uow.transaction() as repos:
            return await self.purchases.create_order(repos, user, pack, kind, "INR")

    async def held(self, user: str) -> dict[str, datetime | None]:
        return (await self.entitlements.check(user, [], [])).held

    async def grant_rows(self, user: str) -> int:
        async with self.db.read() as conn:
            row = (
                await conn.execute(
                    text("SELECT count(*) AS n FROM pricing.user_features WHERE user_id = :u"), {"u": user}
                )
            ).one()
        return int(row.n)


@pytest.fixture
async def world(database_url: str) -> AsyncIterator[World]:
    db = Database(database_url, pool_size=12)
    yield World(db, [datetime.now(UTC)])
    await db.close()


def _event(event: str, order: Any, payment_id: str, amount: int | None = None) -> bytes:
    entity = {
        "id": payment_id,
        "entity": "payment",
        "order_id": order.provider_order_id,
        "amount": order.amount_minor if amount is None else amount,
        "currency": "INR",
        "status": "captured",
    }
    payload: dict[str, Any] = {"payment": {"entity": entity}}
    if event.startswith("refund."):
        payload["refund"] = {"entity": {"id": "rfnd_" + payment_id, "payment_id": payment_id}}
    return json.dumps(
        {"entity": "event", "event": event, "payload": payload, "created_at": 1764000000}
    ).encode()


def _sign(body: bytes, secret: str = WEBHOOK_SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def test_a_verified_webhook_pays_the_order_and_replays_grant_nothing_more(world: World) -> None:
    user = f"u-{uuid.uuid4()}"
    order = await world.order(user)
    assert order.state is OrderState.CREATED and world.api.opened == 1
    body = _event("payment.captured", order, "pay_A1")
    await world.purchases.razorpay_webhook(body, _sign(body), "evt_A1")
    assert set(await world.held(user)) == TRIP_FEATURES
    assert world.cache.invalidated == [user]
    rows = await world.grant_rows(user)
    assert rows == len(TRIP_FEATURES)
    # Retried delivery (same event id), a replay without the id, and the sibling order.paid event.
    await world.purchases.razorpay_webhook(body, _sign(body), "evt_A1")
    await world.purchases.razorpay_webhook(body, _sign(body), "")
    paid = _event("order.paid", order, "pay_A1")
    await world.purchases.razorpay_webhook(paid, _sign(paid), "evt_A2")
    # The app's own confirmation afterwards is accepted and changes nothing.
    signature = hmac.new(KEY_SECRET.encode(), f"{order.provider_order_id}|pay_A1".encode(), hashlib.sha256)
    async with world.uow.transaction() as repos:
        confirmed = await world.purchases.confirm(repos, user, order.id, "pay_A1", signature.hexdigest())
    assert confirmed.state is OrderState.PAID
    assert await world.grant_rows(user) == rows


async def test_tampered_or_wrongly_signed_webhooks_change_nothing(world: World) -> None:
    user = f"u-{uuid.uuid4()}"
    order = await world.order(user)
    body = _event("payment.captured", order, "pay_B1")
    tampered = body.replace(b'"pay_B1"', b'"pay_B2"')
    with pytest.raises(Unauthenticated):
        await world.purchases.razorpay_webhook(tampered, _sign(body), "evt_B1")
    with pytest.raises(Unauthenticated):
        await world.purchases.razorpay_webhook(body, _sign(body, "someone-elses-secret"), "evt_B1")
    with pytest.raises(Unauthenticated):
        await world.purchases.razorpay_webhook(body, "", "evt_B1")
    assert await world.held(user) == {}
    # A signed event whose amount differs from the order is acknowledged but grants nothing.
    cheap = _event("payment.captured", order, "pay_B3", amount=100)
    await world.purchases.razorpay_webhook(cheap, _sign(cheap), "evt_B3")
    assert await world.held(user) == {}
    assert (await world.purchases.get(user, order.id)).state is OrderState.CREATED


async def test_concurrent_deliveries_of_one_payment_grant_once(world: World) -> None:
    user = f"u-{uuid.uuid4()}"
    order = await world.order(user)
    captured = _event("payment.captured", order, "pay_C1")
    paid = _event("order.paid", order, "pay_C1")
    deliveries = [(captured, f"evt_C{i % 3}") for i in range(6)] + [(paid, f"evt_P{i}") for i in range(4)]
    await asyncio.gather(*(world.purchases.razorpay_webhook(b, _sign(b), eid) for b, eid in deliveries))
    assert await world.grant_rows(user) == len(TRIP_FEATURES)
    async with world.db.read() as conn:
        events = (
            await conn.execute(
                text(
                    "SELECT count(*) AS n FROM kit.outbox "
                    "WHERE event_type = 'purchase.completed' AND aggregate = :a"
                ),
                {"a": f"orders/{order.id}"},
            )
        ).one()
    assert events.n == 1


async def test_a_refund_revokes_and_a_late_payment_report_does_not_regrant(world: World) -> None:
    user = f"u-{uuid.uuid4()}"
    order = await world.order(user)
    captured = _event("payment.captured", order, "pay_D1")
    await world.purchases.razorpay_webhook(captured, _sign(captured), "evt_D1")
    refund = _event("refund.processed", order, "pay_D1")
    await world.purchases.razorpay_webhook(refund, _sign(refund), "evt_D2")
    assert await world.held(user) == {}
    assert (await world.purchases.get(user, order.id)).state is OrderState.REFUNDED
    # The captured event delivered again later under a new id (or replayed) grants nothing.
    await world.purchases.razorpay_webhook(captured, _sign(captured), "evt_D3")
    assert await world.held(user) == {}
    assert world.cache.invalidated == [user, user]


async def test_bad_checkout_signature_is_refused_and_other_users_orders_are_invisible(world: World) -> None:
    user = f"u-{uuid.uuid4()}"
    order = await world.order(user)
    forged = hmac.new(b"guess", f"{order.provider_order_id}|pay_E1".encode(), hashlib.sha256).hexdigest()
    async with world.uow.transaction() as repos:
        with pytest.raises(InvalidArgument) as bad:
            await world.purchases.confirm(repos, user, order.id, "pay_E1", forged)
    assert bad.value.field == "signature"
    async with world.uow.transaction() as repos:
        with pytest.raises(Exception, match="not found"):
            await world.purchases.confirm(repos, "someone-else", order.id, "pay_E1", forged)


async def test_rebuying_extends_and_expiry_ends_it_with_an_event(world: World) -> None:
    user = f"u-{uuid.uuid4()}"
    start = world.clock[0]
    for _ in range(2):
        order = await world.order(user, kind=ProviderKind.DEV)
        async with world.uow.transaction() as repos:
            await world.purchases.confirm(repos, user, order.id, "dev_pay", "")
    held = await world.held(user)
    end = held["receipts"]
    assert end is not None and abs(end - (start + timedelta(days=14))) < timedelta(seconds=5)
    listed, _ = await world.entitlements.list_mine(user, show_inactive=False, after=None, limit=50)
    assert len(listed) == 2 * len(TRIP_FEATURES)

    # Half-way through the second week: still held; after it, the gate and the job agree.
    world.clock[0] = start + timedelta(days=10)
    assert "receipts" in await world.held(user)
    count, users = await world.entitlements.expire(start + timedelta(days=10))
    assert count >= len(TRIP_FEATURES)  # the first week's grants ended ...
    assert user not in users  # ... but the renewal covers now: no event, nothing to invalidate
    world.clock[0] = start + timedelta(days=15)
    assert await world.held(user) == {}
    count, users = await world.entitlements.expire(world.clock[0])
    assert user in users and count >= len(TRIP_FEATURES)
    assert world.cache.invalidated[-len(users) :] == users
    _, users_again = await world.entitlements.expire(world.clock[0])
    assert user not in users_again  # a second run ends nothing twice
    async with world.db.read() as conn:
        events = (
            await conn.execute(
                text(
                    "SELECT payload FROM kit.outbox "
                    "WHERE event_type = 'entitlements.expired' AND aggregate = :a"
                ),
                {"a": f"users/{user}"},
            )
        ).all()
    assert len(events) == 1
    assert set(events[0].payload["features"]) == TRIP_FEATURES


async def test_admin_catalog_changes_apply_to_new_orders_only(world: World) -> None:
    catalog = CatalogUseCases(world.uow)
    key = f"test_{uuid.uuid4().hex[:10]}"
    pack = Pack(key, "Test pack", ("charts",), timedelta(days=1), 1900, {"USD": 99})
    await catalog.upsert_pack(pack)
    user = f"u-{uuid.uuid4()}"
    order = await world.order(user, pack=key)
    await catalog.upsert_pack(Pack(key, "Test pack", ("charts",), timedelta(days=1), 2900))
    assert order.amount_minor == 1900
    assert (await world.purchases.get(user, order.id)).amount_minor == 1900
    await catalog.deactivate_pack(key)
    assert key not in [p.key for p in await catalog.packs(after=None, limit=100)]
    with pytest.raises(Exception, match="not on sale"):
        await world.order(user, pack=key)
    with pytest.raises(InvalidArgument):
        await catalog.upsert_pack(Pack(key, "Bad", ("no_such_feature",), None, 100))
    async with world.uow.read() as repos:
        assert await repos.get_pack(key) is not None
