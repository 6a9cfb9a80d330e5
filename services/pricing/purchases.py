"""Purchase use cases: orders with a provider, payment confirmation, provider webhooks, refunds.

Every way a payment can be reported (the app's confirmation, a webhook, a
retried webhook, two deliveries at once) goes through the same locked state
change on the order row, and grants are unique per order and feature, so one
payment grants once. A refunded order never goes back to paid.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping

from google.protobuf.message import Message

from libs.db.unit_of_work import UnitOfWork
from libs.errors import FailedPrecondition, InvalidArgument, NotFound, Unauthenticated
from libs.idempotency import M, Once
from services.pricing import domain
from services.pricing.domain import Order, OrderState, ProviderKind, Settle
from services.pricing.entitlements import EntitlementUseCases
from services.pricing.ports import PricingRepositories
from services.pricing.providers import PaymentProvider
from services.pricing.providers.razorpay import (
    WebhookEvent,
    WebhookRejected,
    parse_webhook,
    verify_webhook,
)

log = logging.getLogger("hisaab.pricing")

ORDER_NOT_FOUND = "order not found"
# The idempotency keys' scopes.
CREATE_ORDER_SCOPE = "pricing.CreateOrder"
CONFIRM_PAYMENT_SCOPE = "pricing.ConfirmPayment"
_PAID_EVENTS = frozenset({"payment.captured", "order.paid"})
_REFUND_EVENTS = frozenset({"refund.created", "refund.processed"})


class PurchaseUseCases:
    def __init__(
        self,
        uow: UnitOfWork[PricingRepositories],
        entitlements: EntitlementUseCases,
        providers: Mapping[ProviderKind, PaymentProvider],
        *,
        razorpay_webhook_secret: str = "",
    ):
        self._uow = uow
        self._entitlements = entitlements
        self._providers = dict(providers)
        self._webhook_secret = razorpay_webhook_secret

    def _provider(self, kind: ProviderKind) -> PaymentProvider:
        provider = self._providers.get(kind)
        if provider is None:
            raise InvalidArgument("provider", f"{kind.value} payments are not available here")
        return provider

    async def create(
        self,
        user_id: str,
        pack_key: str,
        kind: ProviderKind,
        currency: str,
        request: Message,
        response_type: type[M],
        present: Callable[[Order], M],
    ) -> M:
        """CreateOrder: at most once per ``request``'s request_id (the stored answer is
        ``response_type``). The provider's order is opened inside the idempotency
        transaction on purpose: a retry then gets the stored order, never a second provider
        order the user could pay twice."""
        self._provider(kind)

        async def work(repos: PricingRepositories) -> M:
            return present(await self.create_order(repos, user_id, pack_key, kind, currency))

        return await Once(self._uow, CREATE_ORDER_SCOPE, request, response_type)(work)

    async def confirm_payment(
        self,
        user_id: str,
        order_id: str,
        payment_id: str,
        signature: str,
        request: Message,
        response_type: type[M],
        present: Callable[[Order], M],
    ) -> M:
        """ConfirmPayment, at most once per ``request``'s request_id: the locked state change
        in one transaction, then the user's cached
        features are dropped. After the commit: an invalidation before it could be refilled
        with the old state."""

        async def work(repos: PricingRepositories) -> M:
            return present(await self.confirm(repos, user_id, order_id, payment_id, signature))

        confirmed = await Once(self._uow, CONFIRM_PAYMENT_SCOPE, request, response_type)(work)
        await self._entitlements.invalidate(user_id)
        return confirmed

    async def create_order(
        self, repos: PricingRepositories, user_id: str, pack_key: str, kind: ProviderKind, currency: str
    ) -> Order:
        """Inside the idempotency transaction, so a retry never opens a second provider order."""
        provider = self._provider(kind)
        pack = await repos.get_pack(pack_key)
        if pack is None or not pack.active:
            raise NotFound("pack not found or not on sale")
        amount = pack.price_in(currency)
        order_id = str(uuid.uuid4())
        opened = await provider.create_order(
            order_id=order_id, amount_minor=amount, currency=currency, description=pack.display_name
        )
        now = self._entitlements.now()
        return await repos.insert_order(
            Order(
                id=order_id,
                user_id=user_id,
                pack_key=pack.key,
                features=pack.features,
                duration=pack.duration,
                provider=kind,
                provider_order_id=opened.provider_order_id,
                currency=currency,
                amount_minor=amount,
                state=OrderState.CREATED,
                checkout_params=opened.checkout_params,
                provider_payment_id="",
                failure_reason="",
                created_at=now,
                paid_at=None,
                updated_at=now,
            ),
        )

    async def confirm(
        self, repos: PricingRepositories, user_id: str, order_id: str, payment_id: str, signature: str
    ) -> Order:
        order = await repos.get_order(order_id, lock=True)
        if order is None or order.user_id != user_id:
            raise NotFound(ORDER_NOT_FOUND)
        provider = self._provider(order.provider)
        if not provider.verify_payment(
            provider_order_id=order.provider_order_id, payment_id=payment_id, signature=signature
        ):
            raise InvalidArgument("signature", "does not match the order and payment")
        paid, _ = await self._paid(repos, order, payment_id)
        return paid

    async def _paid(
        self,
        repos: PricingRepositories,
        order: Order,
        payment_id: str,
        amount_minor: int | None = None,
        currency: str | None = None,
    ) -> tuple[Order, bool]:
        """The order after the payment report, and whether this report granted its features."""
        outcome = domain.settle_payment(order, amount_minor, currency)
        if outcome is not Settle.GRANT:
            return order, False
        now = self._entitlements.now()
        paid = await repos.set_order_state(
            order.id, OrderState.PAID, payment_id=payment_id, failure_reason="", paid_at=now
        )
        await self._entitlements.grant_order(repos, paid, now)
        return paid, True

    async def get(self, user_id: str, order_id: str) -> Order:
        async with self._uow.transaction() as repos:
            order = await repos.get_order(order_id)
        if order is None or order.user_id != user_id:
            raise NotFound(ORDER_NOT_FOUND)
        return order

    async def list_orders(self, user_id: str, *, after: list[str] | None, limit: int) -> list[Order]:
        async with self._uow.read() as repos:
            return await repos.list_orders(user_id, after=after, limit=limit)

    # --- Razorpay webhooks ---

    async def razorpay_webhook(self, body: bytes, signature: str, event_id: str) -> None:
        if not verify_webhook(self._webhook_secret, body, signature):
            raise Unauthenticated("webhook signature does not match")
        try:
            event = parse_webhook(body, event_id)
        except WebhookRejected as err:
            raise InvalidArgument("body", str(err)) from None
        user_id = ""
        async with self._uow.transaction() as repos:
            if not await repos.claim_webhook_event(ProviderKind.RAZORPAY, event.event_id, event.event_type):
                return  # a retry or a replay of an event already handled
            user_id = await self._apply(repos, event)
        if user_id:
            await self._entitlements.invalidate(user_id)

    async def _apply(self, repos: PricingRepositories, event: WebhookEvent) -> str:
        """Applies one verified event; the user whose entitlements changed, if any."""
        order = await self._order_for(repos, event)
        if order is None:
            log.info("webhook for an order that is not ours", extra={"event": event.event_type})
            return ""
        if event.event_type in _PAID_EVENTS:
            try:
                paid, granted = await self._paid(
                    repos, order, event.payment_id, event.amount_minor, event.currency
                )
            except FailedPrecondition:
                log.warning("paid amount differs from the order", extra={"order": order.id})
                return ""
            return paid.user_id if granted else ""
        if event.event_type == "payment.failed" and order.state is OrderState.CREATED:
            await repos.set_order_state(
                order.id, OrderState.FAILED, failure_reason=event.failure_reason or "payment failed"
            )
            return ""
        if event.event_type in _REFUND_EVENTS and order.state is OrderState.PAID:
            await repos.set_order_state(order.id, OrderState.REFUNDED)
            await self._entitlements.revoke_order(repos, order, self._entitlements.now())
            return order.user_id
        return ""

    async def _order_for(self, repos: PricingRepositories, event: WebhookEvent) -> Order | None:
        if event.order_id:
            return await repos.order_by_provider_id(ProviderKind.RAZORPAY, event.order_id, lock=True)
        if event.payment_id:
            return await repos.order_by_payment_id(ProviderKind.RAZORPAY, event.payment_id, lock=True)
        return None
