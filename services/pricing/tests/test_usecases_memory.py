"""Pricing use cases (catalog, purchases, entitlements) on in-memory repositories."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hisaab.events.v1 import events_pb2 as ev
from hisaab.pricing.v1 import pricing_pb2

from libs.auth.caller import Caller, reset_caller, set_caller
from libs.clients.features.windows import Period
from libs.db.unit_of_work import MemoryUnitOfWork
from libs.errors import InvalidArgument, NotFound, RequestIdReused, Unavailable
from services.pricing import codec
from services.pricing.catalog import CatalogUseCases
from services.pricing.domain import Feature, Order, OrderState, Pack, ProviderKind, Quota
from services.pricing.entitlements import EntitlementUseCases
from services.pricing.providers import ProviderOrder
from services.pricing.providers.dev import DevProvider
from services.pricing.providers.razorpay import RazorpayProvider
from services.pricing.purchases import PurchaseUseCases
from services.pricing.tests.fakes import MemoryPricingRepositories

USER = "u1"
WEBHOOK_SECRET = "webhook-secret"
FEATURES = ("receipts", "charts")
Uow = MemoryUnitOfWork[MemoryPricingRepositories]


class RecordingCache:
    def __init__(self) -> None:
        self.invalidated: list[str] = []

    async def invalidate(self, *user_ids: str) -> None:
        self.invalidated.extend(user_ids)


class CountingDev(DevProvider):
    """The dev provider, counting the orders it opens; it can be told to be down."""

    def __init__(self) -> None:
        self.opened = 0
        self.down = False

    async def create_order(
        self, *, order_id: str, amount_minor: int, currency: str, description: str
    ) -> ProviderOrder:
        if self.down:
            raise Unavailable("provider down")
        self.opened += 1
        return await super().create_order(
            order_id=order_id, amount_minor=amount_minor, currency=currency, description=description
        )


class FakeRazorpayApi:
    async def __call__(self, url: str, headers: Mapping[str, str], body: bytes) -> tuple[int, bytes]:
        return 200, json.dumps({"id": f"order_{uuid.uuid4().hex[:14]}"}).encode()


class World:
    def __init__(self) -> None:
        self.clock = [datetime(2026, 3, 1, 12, tzinfo=UTC)]
        self.uow: Uow = MemoryUnitOfWork(MemoryPricingRepositories())
        self.cache = RecordingCache()
        self.dev = CountingDev()
        self.entitlements = EntitlementUseCases(self.uow, self.cache, clock=lambda: self.clock[0])
        self.purchases = PurchaseUseCases(
            self.uow,
            self.entitlements,
            {
                ProviderKind.DEV: self.dev,
                ProviderKind.RAZORPAY: RazorpayProvider("rzp_test", "key-secret", post=FakeRazorpayApi()),
            },
            razorpay_webhook_secret=WEBHOOK_SECRET,
        )
        self.catalog = CatalogUseCases(self.uow)

    @property
    def repos(self) -> MemoryPricingRepositories:
        return self.uow.repositories

    async def stock(self) -> None:
        for key in FEATURES:
            await self.catalog.upsert_feature(Feature(key, key.title()))
        await self.catalog.upsert_pack(
            Pack("trip_7d", "Trip", FEATURES, timedelta(days=7), 9900, {"USD": 199})
        )

    async def create(
        self, request_id: str = "", kind: ProviderKind = ProviderKind.DEV, pack: str = "trip_7d"
    ) -> pricing_pb2.Order:
        request = pricing_pb2.CreateOrderRequest(pack=f"packs/{pack}", request_id=request_id)
        return await self.purchases.create(
            USER, pack, kind, "INR", request, pricing_pb2.Order, codec.order_proto
        )

    async def confirm(self, order_id: str, request_id: str = "") -> pricing_pb2.Order:
        request = pricing_pb2.ConfirmPaymentRequest(
            order=f"orders/{order_id}", provider_payment_id="dev_pay", request_id=request_id
        )
        return await self.purchases.confirm_payment(
            USER, order_id, "dev_pay", "", request, pricing_pb2.Order, codec.order_proto
        )


@pytest.fixture
async def world() -> World:
    w = World()
    await w.stock()
    return w


@pytest.fixture(autouse=True)
def caller() -> Iterator[None]:
    token = set_caller(Caller(USER, "token"))
    yield
    reset_caller(token)


# --- catalog


async def test_catalog_refuses_packs_of_unknown_features_and_pages_by_key(world: World) -> None:
    with pytest.raises(InvalidArgument) as unknown:
        await world.catalog.upsert_pack(Pack("bad", "Bad", ("nope",), None, 100))
    assert unknown.value.field == "pack.features" and "nope" in unknown.value.description
    with pytest.raises(InvalidArgument) as price:
        await world.catalog.upsert_pack(Pack("free", "Free", FEATURES, None, 0))
    assert price.value.field == "pack.price"
    assert "bad" not in world.repos.packs
    first = await world.catalog.features(after=None, limit=1)
    assert [f.key for f in first] == ["charts"]
    assert [f.key for f in await world.catalog.features(after="charts", limit=5)] == ["receipts"]
    with pytest.raises(InvalidArgument) as zone:
        await world.catalog.upsert_quota(Quota("expenses", "Expenses", 5, Period.DAILY, "Mars/Olympus"))
    assert zone.value.field == "quota.time_zone"


async def test_a_deactivated_pack_is_off_sale(world: World) -> None:
    await world.catalog.deactivate_pack("trip_7d")
    assert await world.catalog.packs(after=None, limit=10) == []
    with pytest.raises(NotFound, match="not on sale"):
        await world.create()
    with pytest.raises(NotFound):
        await world.catalog.deactivate_pack("no_such_pack")
    assert world.repos.orders == {}


# --- purchases


async def test_create_order_opens_one_provider_order_per_request_id(world: World) -> None:
    request_id = str(uuid.uuid4())
    first = await world.create(request_id)
    again = await world.create(request_id)
    assert again == first and world.dev.opened == 1
    assert len(world.repos.orders) == 1
    [order] = world.repos.orders.values()
    assert order.state is OrderState.CREATED and order.amount_minor == 9900 and order.user_id == USER
    with pytest.raises(RequestIdReused):
        await world.create(request_id, pack="other")


async def test_a_provider_failure_leaves_no_order_and_no_key(world: World) -> None:
    world.dev.down = True
    with pytest.raises(Unavailable):
        await world.create(str(uuid.uuid4()))
    assert world.repos.orders == {} and world.repos.keys.kept == {}


async def test_confirming_grants_once_records_the_event_and_drops_the_cache(world: World) -> None:
    created = await world.create()
    order_id = created.name.removeprefix("orders/")
    paid = await world.confirm(order_id, str(uuid.uuid4()))
    assert paid.state == pricing_pb2.Order.PAID
    assert world.cache.invalidated == [USER]
    check = await world.entitlements.check(USER, [], [])
    assert set(check.held) == set(FEATURES)
    assert check.held["receipts"] == world.clock[0] + timedelta(days=7)
    # a second confirmation (another request id) grants nothing more
    await world.confirm(order_id, str(uuid.uuid4()))
    assert len(world.repos.grants) == len(FEATURES)
    completed = [e for e in world.repos.outbox.events() if isinstance(e, ev.PurchaseCompleted)]
    assert (
        len(completed) == 1 and completed[0].order == order_id and set(completed[0].features) == set(FEATURES)
    )


async def test_someone_else_s_order_is_not_found(world: World) -> None:
    created = await world.create()
    order_id = created.name.removeprefix("orders/")
    with pytest.raises(NotFound):
        await world.purchases.get("intruder", order_id)
    with pytest.raises(NotFound):
        await world.purchases.get(USER, "not-a-uuid")
    assert (await world.purchases.get(USER, order_id)).id == order_id
    assert [o.id for o in await world.purchases.list_orders(USER, after=None, limit=5)] == [order_id]
    assert await world.purchases.list_orders("intruder", after=None, limit=5) == []


def _webhook(event: str, order: Order, payment_id: str) -> tuple[bytes, str]:
    entity = {
        "id": payment_id,
        "entity": "payment",
        "order_id": order.provider_order_id,
        "amount": order.amount_minor,
        "currency": "INR",
        "status": "captured",
    }
    payload: dict[str, Any] = {"payment": {"entity": entity}}
    if event.startswith("refund."):
        payload["refund"] = {"entity": {"id": "rfnd_" + payment_id, "payment_id": payment_id}}
    body = json.dumps({"entity": "event", "event": event, "payload": payload, "created_at": 1}).encode()
    return body, hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()


async def test_webhooks_pay_once_and_a_refund_revokes_for_good(world: World) -> None:
    created = await world.create(kind=ProviderKind.RAZORPAY)
    order = world.repos.orders[created.name.removeprefix("orders/")]
    body, signature = _webhook("payment.captured", order, "pay_1")
    await world.purchases.razorpay_webhook(body, signature, "evt_1")
    await world.purchases.razorpay_webhook(body, signature, "evt_1")  # a retried delivery
    assert len(world.repos.grants) == len(FEATURES)
    assert world.repos.orders[order.id].state is OrderState.PAID

    refund, refund_signature = _webhook("refund.processed", order, "pay_1")
    await world.purchases.razorpay_webhook(refund, refund_signature, "evt_2")
    assert world.repos.orders[order.id].state is OrderState.REFUNDED
    assert (await world.entitlements.check(USER, [], [])).held == {}
    await world.purchases.razorpay_webhook(body, signature, "evt_3")  # late, under a new id
    assert (await world.entitlements.check(USER, [], [])).held == {}
    assert world.cache.invalidated == [USER, USER]
    refunded = [e for e in world.repos.outbox.events() if isinstance(e, ev.PurchaseRefunded)]
    assert len(refunded) == 1 and refunded[0].revoked == len(FEATURES)


# --- entitlements


async def test_rebuying_extends_and_the_expiry_job_reports_who_lost_what(world: World) -> None:
    start = world.clock[0]
    for _ in range(2):
        created = await world.create()
        await world.confirm(created.name.removeprefix("orders/"))
    assert (await world.entitlements.check(USER, ["receipts"], [])).held == {
        "receipts": start + timedelta(days=14)
    }
    count, users = await world.entitlements.expire(start + timedelta(days=10))
    assert count == len(FEATURES) and users == []  # the renewal still covers now
    world.clock[0] = start + timedelta(days=15)
    count, users = await world.entitlements.expire()
    assert count == len(FEATURES) and users == [USER]
    assert await world.entitlements.expire() == (0, [])
    [expired] = [e for e in world.repos.outbox.events() if isinstance(e, ev.EntitlementsExpired)]
    assert sorted(expired.features) == sorted(FEATURES)


async def test_quota_usage_counts_each_request_once_and_a_feature_lifts_it(world: World) -> None:
    await world.catalog.upsert_quota(
        Quota("expenses", "Expenses", 2, Period.DAILY, "Asia/Kolkata", "receipts")
    )
    first = await world.entitlements.record_usage(USER, "expenses", "r1")
    again = await world.entitlements.record_usage(USER, "expenses", "r1")
    assert first is not None and again is not None and first.used == again.used == 1
    second = await world.entitlements.record_usage(USER, "expenses", "r2")
    assert second is not None and second.used == 2 and not second.allowed
    assert await world.entitlements.record_usage(USER, "no_such_quota", "r3") is None
    created = await world.create()
    await world.confirm(created.name.removeprefix("orders/"))
    [usage] = (await world.entitlements.check(USER, [], ["expenses"])).quotas
    assert usage.unlimited and usage.allowed
