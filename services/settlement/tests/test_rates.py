"""Reference rates: parsing the ECB's daily document and deriving cross rates (no I/O)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import httpx
import pytest

from services.settlement.rates.ecb import EcbSource, SourceError, parse
from services.settlement.rates.reference import ReferenceRates, UnknownCurrency
from tools.devstack.rates import document

_ENVELOPE = (
    "<gesmes:Envelope xmlns:gesmes='http://www.gesmes.org/xml/2002-08-01' "
    "xmlns='http://www.ecb.int/vocabulary/2002-08-01/eurofxref'><Cube>{}</Cube></gesmes:Envelope>"
)


def test_parse_reads_the_day_and_every_currency() -> None:
    body = _ENVELOPE.format(
        "<Cube time='2026-11-27'><Cube currency='USD' rate='1.0512'/>"
        "<Cube currency='INR' rate='88.7'/></Cube>"
    ).encode()
    rates = parse(body)
    assert rates.day == date(2026, 11, 27) and rates.base == "EUR" and rates.source == "ecb"
    assert rates.per_base == {"USD": Decimal("1.0512"), "INR": Decimal("88.7")}


@pytest.mark.parametrize(
    "inner",
    [
        "",  # no day
        "<Cube time='2026-11-27'></Cube>",  # no rates
        "<Cube time='2026-11-27'><Cube currency='USD' rate='-1'/></Cube>",
        "<Cube time='2026-11-27'><Cube currency='USD' rate='NaN'/></Cube>",
        "<Cube time='2026-11-27'><Cube currency='USD' rate='abc'/></Cube>",
        "<Cube time='2026-11-27'><Cube currency='usd' rate='1'/></Cube>",
        "<Cube time='2026-02-30'><Cube currency='USD' rate='1'/></Cube>",
        "<Cube time='2026-11-27'><Cube currency='USD' rate='1'/></Cube><Cube time='2026-11-26'/>",
    ],
)
def test_parse_refuses_what_is_not_one_day_of_rates(inner: str) -> None:
    with pytest.raises(SourceError):
        parse(_ENVELOPE.format(inner).encode())


def test_parse_refuses_entity_expansion() -> None:
    bomb = b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'aaaaaaaaaa'><!ENTITY b '&a;&a;&a;&a;'>]><x>&b;</x>"
    with pytest.raises(SourceError, match="not plain XML"):
        parse(bomb)


def test_cross_rates_are_exact_then_rounded_once() -> None:
    rates = ReferenceRates(date(2026, 11, 27), "ecb", "EUR", {"INR": Decimal("90"), "USD": Decimal("1.08")})
    assert rates.rate("USD", "INR") == "83.3333333333"
    assert rates.rate("INR", "USD") == "0.012"
    assert rates.rate("EUR", "INR") == "90"
    assert rates.rate("INR", "EUR") == "0.0111111111"
    assert rates.rates_in("INR") == {"EUR": "90", "USD": "83.3333333333"}
    with pytest.raises(UnknownCurrency):
        rates.rate("JPY", "INR")


async def test_the_source_is_fetched_over_http_and_parsed() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=document())

    fetched = await EcbSource("https://rates.test/daily.xml", transport=httpx.MockTransport(answer)).fetch()
    assert fetched.per_base["INR"] > 0

    def failing(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503)

    with pytest.raises(SourceError):
        await EcbSource("https://rates.test/daily.xml", transport=httpx.MockTransport(failing)).fetch()
