"""Pricing's request conversions: what an administrator or the app sends becomes a domain value or a
field-named INVALID_ARGUMENT."""

from __future__ import annotations

import pytest
from google.protobuf import duration_pb2
from hisaab.common.v1 import money_pb2
from hisaab.pricing.v1 import pricing_pb2

from libs.clients.features.windows import Period
from libs.errors import InvalidArgument
from services.pricing import codec
from services.pricing.domain import ProviderKind


def _pack(**fields: object) -> pricing_pb2.Pack:
    base: dict[str, object] = {
        "key": "trip",
        "display_name": "Trip pack",
        "features": ["receipt_scan", "receipt_scan", "export_pdf"],
        "price": money_pb2.Money(currency_code="INR", amount_minor=4900),
        "duration": duration_pb2.Duration(seconds=30 * 86400),
    }
    base.update(fields)
    return pricing_pb2.Pack(**base)  # type: ignore[arg-type]


def test_a_pack_keeps_its_features_once_in_order_and_its_prices_in_minor_units() -> None:
    pack = codec.pack_from(_pack(other_prices=[money_pb2.Money(currency_code="USD", amount_minor=99)]))
    assert pack.features == ("receipt_scan", "export_pdf")
    assert pack.price_inr_minor == 4900
    assert pack.other_prices == {"USD": 99}
    assert pack.duration is not None and pack.duration.days == 30


def test_a_pack_without_a_duration_never_expires() -> None:
    message = _pack()
    message.ClearField("duration")
    assert codec.pack_from(message).duration is None


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"price": money_pb2.Money(currency_code="USD", amount_minor=100)}, "pack.price.currency_code"),
        ({"display_name": ""}, "pack.display_name"),
        (
            {"other_prices": [money_pb2.Money(currency_code="INR", amount_minor=1)]},
            "pack.other_prices[0].currency_code",
        ),
        (
            {
                "other_prices": [
                    money_pb2.Money(currency_code="USD", amount_minor=1),
                    money_pb2.Money(currency_code="USD", amount_minor=2),
                ]
            },
            "pack.other_prices[1].currency_code",
        ),
    ],
)
def test_a_bad_pack_names_the_field(fields: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        codec.pack_from(_pack(**fields))
    assert caught.value.field == field


def test_a_quota_needs_a_period_and_defaults_to_india_time() -> None:
    quota = codec.quota_from(
        pricing_pb2.Quota(key="scans", display_name="Scans", limit=5, period=pricing_pb2.Quota.DAILY)
    )
    assert (quota.period, quota.time_zone, quota.limit) == (Period.DAILY, "Asia/Kolkata", 5)
    with pytest.raises(InvalidArgument) as caught:
        codec.quota_from(pricing_pb2.Quota(key="scans", display_name="Scans", limit=5))
    assert caught.value.field == "quota.period"


def test_an_order_names_its_provider() -> None:
    assert codec.provider_from(pricing_pb2.RAZORPAY) is ProviderKind.RAZORPAY
    with pytest.raises(InvalidArgument) as caught:
        codec.provider_from(pricing_pb2.PROVIDER_UNSPECIFIED)
    assert caught.value.field == "provider"
