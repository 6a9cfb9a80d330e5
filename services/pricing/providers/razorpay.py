"""Razorpay: the orders API, the checkout signature and webhooks.

- Orders: POST https://api.razorpay.com/v1/orders with HTTP basic auth (key id
  and key secret); amounts are in the currency's minor unit (paise).
- Checkout: the app receives razorpay_payment_id and razorpay_signature, where
  signature = hex HMAC-SHA256(key_secret, "<order_id>|<payment_id>").
- Webhooks: header X-Razorpay-Signature = hex HMAC-SHA256(webhook_secret, raw
  body). The raw bytes are what is signed, so they are verified before parsing.
Signatures are compared in constant time.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from libs.errors import Unavailable
from services.pricing.domain import ProviderKind
from services.pricing.providers import ProviderOrder

log = logging.getLogger("hisaab.pricing.razorpay")

ORDERS_URL = "https://api.razorpay.com/v1/orders"
TIMEOUT_SECONDS = 10.0

# (url, headers, body) -> (status, body): the one place that talks HTTP, swapped in tests.
HttpPost = Callable[[str, Mapping[str, str], bytes], Awaitable[tuple[int, bytes]]]


async def urllib_post(url: str, headers: Mapping[str, str], body: bytes) -> tuple[int, bytes]:
    def send() -> tuple[int, bytes]:
        request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as resp:  # noqa: S310 (https constant)
                return int(resp.status), bytes(resp.read())
        except urllib.error.HTTPError as err:
            return int(err.code), bytes(err.read())

    try:
        return await asyncio.to_thread(send)
    except (OSError, urllib.error.URLError) as err:
        raise Unavailable("the payment provider did not answer; retry with the same request_id") from err


def hmac_hex(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signatures_match(expected_hex: str, given: str) -> bool:
    # Bytes, not str: compare_digest refuses non-ASCII str, and a forged header may contain anything.
    return hmac.compare_digest(expected_hex.encode(), given.strip().encode("utf-8", "replace"))


def payment_signature(key_secret: str, order_id: str, payment_id: str) -> str:
    return hmac_hex(key_secret, f"{order_id}|{payment_id}".encode())


class RazorpayProvider:
    kind = ProviderKind.RAZORPAY

    def __init__(
        self, key_id: str, key_secret: str, *, post: HttpPost = urllib_post, merchant: str = "Hisaab"
    ):
        self._key_id = key_id
        self._key_secret = key_secret
        self._post = post
        self._merchant = merchant

    def __repr__(self) -> str:
        return f"RazorpayProvider(key_id={self._key_id!r})"

    async def create_order(
        self, *, order_id: str, amount_minor: int, currency: str, description: str
    ) -> ProviderOrder:
        auth = base64.b64encode(f"{self._key_id}:{self._key_secret}".encode()).decode()
        body = json.dumps(
            {
                "amount": amount_minor,
                "currency": currency,
                "receipt": order_id,  # our id, at most 40 characters; a UUID is 36
                "notes": {"hisaab_order": order_id},
            }
        ).encode()
        status, raw = await self._post(
            ORDERS_URL,
            {"Authorization": f"Basic {auth}", "Content-Type": "application/json"},
            body,
        )
        if status != 200:
            # Log Razorpay's reason for operators; the client only learns it failed.
            log.warning(
                "razorpay refused the order",
                extra={"status": status, "body": raw[:500].decode(errors="replace")},
            )
            raise Unavailable("the payment provider could not open the order; retry")
        try:
            created = json.loads(raw)
            provider_order_id = str(created["id"])
        except (ValueError, KeyError, TypeError):
            raise Unavailable("the payment provider answered something unexpected; retry") from None
        return ProviderOrder(
            provider_order_id,
            {
                "key_id": self._key_id,
                "order_id": provider_order_id,
                "amount": str(amount_minor),
                "currency": currency,
                "name": self._merchant,
                "description": description,
            },
        )

    def verify_payment(self, *, provider_order_id: str, payment_id: str, signature: str) -> bool:
        if not (provider_order_id and payment_id and signature):
            return False
        return signatures_match(payment_signature(self._key_secret, provider_order_id, payment_id), signature)


@dataclass(frozen=True)
class WebhookEvent:
    event_id: str
    event_type: str
    payment_id: str = ""
    order_id: str = ""  # Razorpay's order id
    amount_minor: int | None = None
    currency: str = ""
    failure_reason: str = ""


class WebhookRejected(Exception):
    pass


def verify_webhook(secret: str, body: bytes, signature: str) -> bool:
    if not secret or not signature:
        return False
    return signatures_match(hmac_hex(secret, body), signature)


def parse_webhook(body: bytes, event_id_header: str) -> WebhookEvent:
    """The parts of a verified webhook that matter to us."""
    try:
        data: dict[str, Any] = json.loads(body)
        event_type = str(data["event"])
        payload: dict[str, Any] = data.get("payload") or {}
    except (ValueError, KeyError, TypeError, AttributeError):
        raise WebhookRejected("not a Razorpay event") from None
    # Razorpay sends a unique X-Razorpay-Event-Id per event (the same on retries);
    # without it the body itself identifies the delivery.
    event_id = event_id_header or hashlib.sha256(body).hexdigest()
    payment = ((payload.get("payment") or {}).get("entity")) or {}
    refund = ((payload.get("refund") or {}).get("entity")) or {}
    amount = payment.get("amount")
    return WebhookEvent(
        event_id=event_id,
        event_type=event_type,
        payment_id=str(payment.get("id") or refund.get("payment_id") or ""),
        order_id=str(payment.get("order_id") or ""),
        amount_minor=int(amount) if isinstance(amount, int) else None,
        currency=str(payment.get("currency") or ""),
        failure_reason=str(payment.get("error_description") or ""),
    )
