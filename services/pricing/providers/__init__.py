"""Payment providers behind one interface, so Google Play and App Store verification can be added.

A provider opens an order on its side (what the app's checkout needs) and
verifies the proof of payment the app reports back. Webhooks are provider
specific and live with the provider (see ``razorpay``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from services.pricing.domain import ProviderKind


@dataclass(frozen=True)
class ProviderOrder:
    provider_order_id: str
    checkout_params: Mapping[str, str]


class PaymentProvider(Protocol):
    kind: ProviderKind

    async def create_order(
        self, *, order_id: str, amount_minor: int, currency: str, description: str
    ) -> ProviderOrder:
        """Opens the order with the provider; raises libs.errors.Unavailable if it cannot."""

    def verify_payment(self, *, provider_order_id: str, payment_id: str, signature: str) -> bool:
        """Whether the app's report of a completed payment is authentic."""
