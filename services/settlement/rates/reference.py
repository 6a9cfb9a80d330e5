"""One day's reference rates and the cross rates derived from them (pure; no I/O).

A source publishes how many units of each currency one unit of its base buys
(the ECB: per euro). The value of one unit of X in Y is then per_base[Y] /
per_base[X], worked out exactly and rounded once, half-even, to the digits a
rate may carry on the wire, so the rate the response reports is the rate
the conversion used.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction

from services.settlement.domain import MAX_RATE_DECIMALS

_QUANTUM = Decimal(1).scaleb(-MAX_RATE_DECIMALS)


class UnknownCurrency(Exception):
    """The day's rates do not list this currency."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class ReferenceRates:
    day: date
    source: str
    base: str
    # Units of each currency one unit of `base` buys; the base itself is implied (1).
    per_base: Mapping[str, Decimal]

    def knows(self, code: str) -> bool:
        return code == self.base or code in self.per_base

    def _units(self, code: str) -> Fraction:
        if code == self.base:
            return Fraction(1)
        try:
            return Fraction(self.per_base[code])
        except KeyError:
            raise UnknownCurrency(code) from None

    def rate(self, code: str, target: str) -> str:
        """The value of one unit of ``code`` in ``target``, as a decimal string."""
        exact = self._units(target) / self._units(code)
        rounded = (Decimal(exact.numerator) / Decimal(exact.denominator)).quantize(
            _QUANTUM, rounding=ROUND_HALF_EVEN
        )
        if rounded <= 0:
            # A rate of zero would wipe a balance out; nothing published comes near it.
            raise UnknownCurrency(code)
        return _plain(rounded)

    def rates_in(self, target: str) -> dict[str, str]:
        """Every listed currency's value in ``target``, sorted by code (``target`` left out)."""
        codes = sorted({self.base, *self.per_base} - {target})
        return {code: self.rate(code, target) for code in codes}


def _plain(value: Decimal) -> str:
    """No exponent and no trailing zeros: 83.4150000000 → "83.415", 2E+1 → "20"."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text
