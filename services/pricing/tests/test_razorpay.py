"""Razorpay: orders API client on a fake transport, checkout and webhook signatures with computed vectors."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping

import pytest

from libs.errors import Unavailable
from services.pricing.providers import razorpay
from services.pricing.providers.razorpay import RazorpayProvider

KEY_ID = "rzp_test_AbCdEf123"
KEY_SECRET = "key-secret-for-tests"
WEBHOOK_SECRET = "webhook-secret-for-tests"


def _hex(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


class FakeTransport:
    def __init__(self, status: int, body: bytes):
        self.status = status
        self.body = body
        self.calls: list[tuple[str, dict[str, str], bytes]] = []

    async def __call__(self, url: str, headers: Mapping[str, str], body: bytes) -> tuple[int, bytes]:
        self.calls.append((url, dict(headers), body))
        return self.status, self.body


async def test_create_order_posts_to_the_orders_api_with_basic_auth() -> None:
    transport = FakeTransport(
        200, json.dumps({"id": "order_Nx1", "entity": "order", "status": "created"}).encode()
    )
    provider = RazorpayProvider(KEY_ID, KEY_SECRET, post=transport)
    opened = await provider.create_order(
        order_id="5b0b8e1e-6a5e-4d55-9f43-3c7c1f2d9a10", amount_minor=4900, currency="INR", description="Trip"
    )
    [(url, headers, body)] = transport.calls
    assert url == "https://api.razorpay.com/v1/orders"
    assert headers["Authorization"] == "Basic " + base64.b64encode(f"{KEY_ID}:{KEY_SECRET}".encode()).decode()
    sent = json.loads(body)
    assert sent["amount"] == 4900 and isinstance(sent["amount"], int) and sent["currency"] == "INR"
    assert sent["receipt"] == "5b0b8e1e-6a5e-4d55-9f43-3c7c1f2d9a10"
    assert opened.provider_order_id == "order_Nx1"
    assert opened.checkout_params["key_id"] == KEY_ID and opened.checkout_params["amount"] == "4900"
    assert KEY_SECRET not in json.dumps(dict(opened.checkout_params)) and KEY_SECRET not in repr(provider)


@pytest.mark.parametrize(
    ("status", "body"), [(401, b'{"error": {"code": "BAD_REQUEST_ERROR"}}'), (200, b"<html>")]
)
async def test_a_refused_or_garbled_order_is_unavailable(status: int, body: bytes) -> None:
    provider = RazorpayProvider(KEY_ID, KEY_SECRET, post=FakeTransport(status, body))
    with pytest.raises(Unavailable):
        await provider.create_order(order_id="o", amount_minor=100, currency="INR", description="x")


def test_payment_signature_is_hmac_of_order_and_payment_with_the_key_secret() -> None:
    provider = RazorpayProvider(KEY_ID, KEY_SECRET, post=FakeTransport(200, b"{}"))
    good = _hex(KEY_SECRET, b"order_Nx1|pay_Px9")
    assert provider.verify_payment(provider_order_id="order_Nx1", payment_id="pay_Px9", signature=good)
    assert (
        provider.verify_payment(provider_order_id="order_Nx1", payment_id="pay_Px9", signature=good.upper())
        is False
    )
    # Another payment, another order, another secret, or garbage: all refused.
    assert not provider.verify_payment(provider_order_id="order_Nx1", payment_id="pay_Other", signature=good)
    assert not provider.verify_payment(provider_order_id="order_Nx2", payment_id="pay_Px9", signature=good)
    wrong = _hex("another-secret", b"order_Nx1|pay_Px9")
    assert not provider.verify_payment(provider_order_id="order_Nx1", payment_id="pay_Px9", signature=wrong)
    assert not provider.verify_payment(provider_order_id="order_Nx1", payment_id="pay_Px9", signature="")
    assert not provider.verify_payment(
        provider_order_id="order_Nx1", payment_id="pay_Px9", signature="é" * 64
    )


def test_webhook_signature_is_hmac_of_the_raw_body_with_the_webhook_secret() -> None:
    body = json.dumps({"event": "payment.captured", "payload": {}}).encode()
    signature = _hex(WEBHOOK_SECRET, body)
    assert razorpay.verify_webhook(WEBHOOK_SECRET, body, signature)
    tampered = body.replace(b"captured", b"capturex")
    assert not razorpay.verify_webhook(WEBHOOK_SECRET, tampered, signature)
    # Same JSON, different bytes: the raw body is what is signed.
    assert not razorpay.verify_webhook(WEBHOOK_SECRET, body + b" ", signature)
    assert not razorpay.verify_webhook("wrong-secret", body, signature)
    assert not razorpay.verify_webhook(WEBHOOK_SECRET, body, _hex(KEY_SECRET, body))
    assert not razorpay.verify_webhook("", body, _hex("", body))  # no secret configured: nothing verifies
    assert not razorpay.verify_webhook(WEBHOOK_SECRET, body, "")


def test_webhook_events_are_parsed_for_payments_and_refunds() -> None:
    captured = {
        "event": "payment.captured",
        "payload": {
            "payment": {"entity": {"id": "pay_1", "order_id": "order_1", "amount": 4900, "currency": "INR"}}
        },
    }
    event = razorpay.parse_webhook(json.dumps(captured).encode(), "evt_1")
    assert (event.event_id, event.event_type) == ("evt_1", "payment.captured")
    assert (event.payment_id, event.order_id) == ("pay_1", "order_1")
    assert event.amount_minor == 4900 and event.currency == "INR"
    refund = {
        "event": "refund.processed",
        "payload": {"refund": {"entity": {"id": "rfnd_1", "payment_id": "pay_1"}}},
    }
    body = json.dumps(refund).encode()
    parsed = razorpay.parse_webhook(body, "")
    assert parsed.payment_id == "pay_1" and parsed.event_id == hashlib.sha256(body).hexdigest()
    with pytest.raises(razorpay.WebhookRejected):
        razorpay.parse_webhook(b"[1, 2]", "evt")
