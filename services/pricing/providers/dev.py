"""A provider for the local stack: every order is paid as soon as the app confirms it.

Never available in production configuration (see ``services.pricing.config``).
"""

from __future__ import annotations

from services.pricing.domain import ProviderKind
from services.pricing.providers import ProviderOrder


class DevProvider:
    kind = ProviderKind.DEV

    async def create_order(
        self, *, order_id: str, amount_minor: int, currency: str, description: str
    ) -> ProviderOrder:
        provider_order_id = f"dev_{order_id}"
        return ProviderOrder(
            provider_order_id,
            {
                "order_id": provider_order_id,
                "amount": str(amount_minor),
                "currency": currency,
                "description": description,
            },
        )

    def verify_payment(self, *, provider_order_id: str, payment_id: str, signature: str) -> bool:
        return bool(payment_id)
