"""Every human-readable amount, and the currency facts an app needs to render one.

One formatter for notifications, activity summaries and exports: CLDR's currency pattern
for the locale (Indian lakh/crore grouping for en-IN and hi-IN, "JP¥500" for yen), with as
many decimals as the ISO 4217 exponent in ``libs.money`` says, from a ``Decimal`` built
exactly from integer minor units. Never a float.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Final

from babel import Locale, UnknownLocaleError
from babel.numbers import NumberPattern, get_currency_name, get_currency_symbol

from libs import money

# The product's home market: what a reader with no locale preference sees.
DEFAULT_LOCALE: Final = "en-IN"


@dataclass(frozen=True)
class Currency:
    code: str
    exponent: int
    symbol: str
    display_name: str


@lru_cache(maxsize=64)
def _locale(tag: str) -> Locale:
    """The CLDR locale for a BCP 47 tag ("hi-IN") or POSIX name ("hi_IN"); the default
    for an empty or unknown one, so a bad preference never stops a message."""
    for candidate in (tag, DEFAULT_LOCALE):
        if not candidate:
            continue
        try:
            return Locale.parse(candidate.replace("-", "_"))
        except (UnknownLocaleError, ValueError, TypeError):
            continue
    raise AssertionError("the default locale is always known")


@lru_cache(maxsize=256)
def _pattern(tag: str, exp: int, with_symbol: bool) -> NumberPattern:
    base: NumberPattern = _locale(tag).currency_formats["standard"]
    pattern = copy.copy(base)
    # The ISO exponent, not CLDR's "cash digits", decides the decimals: the amount is exact.
    pattern.frac_prec = (exp, exp)
    if not with_symbol:
        positive, negative = (p.replace("¤", "").strip() for p in pattern.prefix)
        pattern.prefix = (positive, negative)
        positive, negative = (s.replace("¤", "").strip() for s in pattern.suffix)
        pattern.suffix = (positive, negative)
    return pattern


def to_decimal(amount_minor: int, currency: str) -> Decimal:
    """The exact value of ``amount_minor`` minor units: 123456 INR → Decimal("1234.56")."""
    return Decimal(amount_minor).scaleb(-money.exponent(currency))


def format_money(amount_minor: int, currency: str, locale: str = "") -> str:
    """The amount as people read it: ₹1,23,456.78 (en-IN), -$12.50 (en-US), JP¥500, KWD 1.125."""
    return _apply(amount_minor, currency, locale, with_symbol=True)


def format_number(amount_minor: int, currency: str, locale: str = "") -> str:
    """The same amount without the symbol ("1,23,456.78"), for tables with a currency column."""
    return _apply(amount_minor, currency, locale, with_symbol=False)


def _apply(amount_minor: int, currency: str, locale: str, *, with_symbol: bool) -> str:
    exp = money.exponent(currency)
    pattern = _pattern(locale, exp, with_symbol)
    text: str = pattern.apply(
        to_decimal(amount_minor, currency), _locale(locale), currency=currency, currency_digits=False
    )
    if with_symbol:
        text = _space_letters(text, get_currency_symbol(currency, locale=_locale(locale)))
    # Plain spaces: the text goes into push payloads and PDFs, where a no-break space can show as a box.
    return text.replace("\xa0", " ").strip()


def _space_letters(text: str, symbol: str) -> str:
    """CLDR's currency spacing, which Babel leaves out: a symbol that is letters ("KWD", "JP¥"
    is not) stands apart from the digits ("KWD 1.125", "1.125 KWD")."""
    at = text.find(symbol)
    if at < 0:
        return text
    end = at + len(symbol)
    if symbol[-1].isalpha() and end < len(text) and text[end].isdigit():
        return f"{text[:end]} {text[end:]}"
    if symbol[0].isalpha() and at > 0 and text[at - 1].isdigit():
        return f"{text[:at]} {text[at:]}"
    return text


def currency(code: str, locale: str = "") -> Currency:
    """One currency as ``locale`` shows it; UnknownCurrency for a code with no minor unit."""
    exp = money.exponent(code)
    where = _locale(locale)
    return Currency(
        code=code,
        exponent=exp,
        symbol=get_currency_symbol(code, locale=where),
        display_name=get_currency_name(code, locale=where),
    )


def currencies(locale: str = "") -> list[Currency]:
    """Every currency an amount may be in, by code."""
    return [currency(code, locale) for code in sorted(money.CURRENCY_EXPONENTS)]
