"""The European Central Bank's daily euro reference rates (eurofxref-daily.xml).

The document lists about thirty currencies, INR among them, as units per euro,
published on TARGET working days around 16:00 CET. Parsed with defusedxml: the
body comes from the network.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation

import httpx
from defusedxml import DefusedXmlException, ElementTree

from services.settlement.rates.reference import ReferenceRates

SOURCE = "ecb"
BASE = "EUR"
_NS = "{http://www.ecb.int/vocabulary/2002-08-01/eurofxref}"
FETCH_TIMEOUT_SECONDS = 20.0


class SourceError(Exception):
    """The source could not be reached or sent something that is not a day's rates."""


def parse(body: bytes) -> ReferenceRates:
    try:
        root = ElementTree.fromstring(body)
    except (ElementTree.ParseError, DefusedXmlException) as err:
        raise SourceError(f"not plain XML: {err!r}") from None
    days = [cube for cube in root.iter(f"{_NS}Cube") if cube.get("time")]
    if len(days) != 1:
        raise SourceError(f"expected one day of rates, found {len(days)}")
    day_cube = days[0]
    try:
        day = date.fromisoformat(day_cube.get("time", ""))
    except ValueError:
        raise SourceError(f"bad date {day_cube.get('time')!r}") from None
    per_base: dict[str, Decimal] = {}
    for cube in day_cube.iter(f"{_NS}Cube"):
        code, rate = cube.get("currency"), cube.get("rate")
        if code is None and rate is None:
            continue
        if not code or len(code) != 3 or not code.isalpha() or not code.isupper() or code == BASE:
            raise SourceError(f"bad currency {code!r}")
        try:
            value = Decimal(rate or "")
        except InvalidOperation:
            raise SourceError(f"bad rate {rate!r} for {code}") from None
        if not value.is_finite() or value <= 0:
            raise SourceError(f"bad rate {rate!r} for {code}")
        per_base[code] = value
    if not per_base:
        raise SourceError("no rates listed")
    return ReferenceRates(day=day, source=SOURCE, base=BASE, per_base=per_base)


class EcbSource:
    def __init__(self, url: str, *, transport: httpx.AsyncBaseTransport | None = None):
        self._url = url
        self._transport = transport

    async def fetch(self) -> ReferenceRates:
        try:
            async with httpx.AsyncClient(timeout=FETCH_TIMEOUT_SECONDS, transport=self._transport) as client:
                answer = await client.get(self._url)
                answer.raise_for_status()
        except httpx.HTTPError as err:
            raise SourceError(f"{self._url}: {err}") from None
        return parse(answer.content)
