"""Money as integers in ISO 4217 minor units: currency table, parsing, validation.

Human-readable text for an amount is ``libs.money_format``'s job.

Pure functions, no I/O. Errors are `ValueError` subclasses that carry the name of the
offending request field, so the service layer can answer INVALID_ARGUMENT with an
`ErrorInfo(reason=INVALID_FIELD, metadata={"field": ...})` without parsing messages.
"""

from __future__ import annotations

import re
from types import MappingProxyType
from typing import Final

# Largest absolute amount accepted anywhere (10^12 paise is ₹1,000 crore). Keeps every
# product in apportionment far inside int64 on the wire and in PostgreSQL BIGINT.
MAX_AMOUNT_MINOR: Final = 10**12


class InvalidField(ValueError):
    """A request field failed validation; `field` is its dotted path, e.g. `payers[2].paid_minor`."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class UnknownCurrency(InvalidField):
    """The currency code is not an active ISO 4217 code with a minor unit."""


class InvalidAmount(InvalidField):
    """An amount is malformed, out of range or has more decimals than its currency allows."""


# Active ISO 4217 codes and their minor-unit exponents. Codes without a minor unit
# (precious metals, SDR, testing codes) are left out: they cannot be amounts here.
# Both ANG and its successor XCG are listed while the two circulate side by side.
_EXPONENT_0 = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
_EXPONENT_3 = "BHD IQD JOD KWD LYD OMR TND"
_EXPONENT_4 = "CLF UYW"
_EXPONENT_2 = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP BYN "
    "BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP "
    "GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP "
    "LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR "
    "NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN "
    "SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED VES WST XCD XCG YER ZAR "
    "ZMW ZWG"
)

CURRENCY_EXPONENTS: Final = MappingProxyType(
    {
        code: exp
        for exp, codes in ((0, _EXPONENT_0), (2, _EXPONENT_2), (3, _EXPONENT_3), (4, _EXPONENT_4))
        for code in codes.split()
    }
)


def is_known(code: str) -> bool:
    return code in CURRENCY_EXPONENTS


def exponent(code: str, *, field: str = "currency_code") -> int:
    """Number of decimals of the currency's minor unit (INR 2, JPY 0, KWD 3)."""
    try:
        return CURRENCY_EXPONENTS[code]
    except KeyError:
        raise UnknownCurrency(field, f"unknown currency code {code!r}") from None


def check_amount(
    amount: int,
    field: str,
    *,
    allow_zero: bool = True,
    allow_negative: bool = False,
) -> int:
    """Return `amount` if it is an int within ±MAX_AMOUNT_MINOR and of the allowed sign."""
    # bool is an int subclass; True as an amount is always a client bug.
    if not isinstance(amount, int) or isinstance(amount, bool):
        raise InvalidAmount(field, "must be an integer count of minor units")
    if abs(amount) > MAX_AMOUNT_MINOR:
        raise InvalidAmount(field, f"magnitude exceeds {MAX_AMOUNT_MINOR} minor units")
    if amount < 0 and not allow_negative:
        raise InvalidAmount(field, "must not be negative")
    if amount == 0 and not allow_zero:
        raise InvalidAmount(field, "must not be zero")
    return amount


_DECIMAL = re.compile(r"(-?)(\d+)(?:\.(\d+))?")


def parse_decimal_to_minor(
    text: str,
    code: str,
    *,
    field: str = "amount",
    allow_negative: bool = False,
) -> int:
    """Parse "12.34" in `code` to minor units, exactly.

    Strict on purpose: more fraction digits than the currency has (even zeros, "1.230" INR)
    are rejected rather than rounded, because a silent rounding moves money.
    """
    exp = exponent(code)
    match = _DECIMAL.fullmatch(text.strip())
    if match is None:
        raise InvalidAmount(field, f"not a decimal number: {text!r}")
    sign, whole, frac = match.group(1), match.group(2), match.group(3) or ""
    if len(frac) > exp:
        raise InvalidAmount(field, f"{code} allows at most {exp} decimal places")
    amount = int(whole) * 10**exp + int(frac.ljust(exp, "0") or "0")
    if sign:
        amount = -amount
    return check_amount(amount, field, allow_negative=allow_negative)


# What prints before or after an amount on a bill: symbols, "Rs."/"INR", Indian "/-".
_PRINTED_AFFIX = re.compile(r"^(?:rs\.?|inr|[a-z]{3}(?=[\s\d.,(-])|[sac]\$)|[₹$€£¥￥]|/-$|\s+", re.IGNORECASE)
_WESTERN_GROUPS = re.compile(r"\d{1,3}(?:,\d{3})+")
_INDIAN_GROUPS = re.compile(r"\d{1,2}(?:,\d{2})*,\d{3}")
_EUROPEAN_GROUPS = re.compile(r"\d{1,3}(?:[.\s]\d{3})+")


def _strip_affixes(text: str) -> str:
    previous = None
    while previous != text:
        previous = text
        text = _PRINTED_AFFIX.sub("", text.strip()).strip()
        text = re.sub(r"(?:/-|\s*[₹$€£¥￥]|\s+(?:rs\.?|inr|[a-z]{3}))$", "", text, flags=re.IGNORECASE)
    return text


def parse_printed_amount(text: str, code: str, *, field: str = "amount", allow_negative: bool = False) -> int:
    """Parse an amount as a bill prints it ("Rs. 1,23,456.00", "₹500/-", "$1,234.50", "12,50 €",
    "(40.00)") to minor units of ``code``, exactly.

    Digit groups must be well formed (western 1,234,567 or Indian 12,34,567), so a misread
    separator is refused rather than read as a different amount. A lone comma followed by
    exactly the currency's decimals is a decimal comma ("12,50" EUR); otherwise commas group.
    """
    exp = exponent(code)
    raw = text.strip()
    negative = False
    if raw.startswith("(") and raw.endswith(")"):
        negative, raw = True, raw[1:-1]
    raw = _strip_affixes(raw)
    if raw.startswith("-") or raw.endswith("-"):
        negative, raw = True, _strip_affixes(raw.strip("-"))
    if not raw or not raw[0].isdigit() or not raw[-1].isdigit():
        raise InvalidAmount(field, f"not an amount: {text!r}")
    whole, frac = raw, ""
    last_dot, last_comma = raw.rfind("."), raw.rfind(",")
    if last_dot >= 0 and last_comma >= 0:
        sep = "." if last_dot > last_comma else ","
        whole, frac = raw.rsplit(sep, 1)
        grouping = "," if sep == "." else "."
        if not (_grouped(whole, grouping)):
            raise InvalidAmount(field, f"badly grouped digits: {text!r}")
        whole = whole.replace(grouping, "").replace(" ", "")
    elif last_comma >= 0:
        head, tail = raw.rsplit(",", 1)
        if exp and len(tail) == exp and len(tail) != 3 and head.isdigit():
            whole, frac = head, tail
        elif _grouped(raw, ","):
            whole = raw.replace(",", "")
        else:
            raise InvalidAmount(field, f"badly grouped digits: {text!r}")
    elif last_dot >= 0:
        head, tail = raw.rsplit(".", 1)
        if exp == 0 and len(tail) == 3 and _EUROPEAN_GROUPS.fullmatch(raw):
            whole = raw.replace(".", "")
        else:
            whole, frac = head, tail
    if not whole.isdigit() or (frac and not frac.isdigit()):
        raise InvalidAmount(field, f"not an amount: {text!r}")
    if len(frac) > exp:
        raise InvalidAmount(field, f"{code} allows at most {exp} decimal places")
    amount = int(whole) * 10**exp + int(frac.ljust(exp, "0") or "0")
    return check_amount(-amount if negative else amount, field, allow_negative=allow_negative)


def _grouped(digits: str, separator: str) -> bool:
    if separator not in digits:
        return digits.isdigit()
    text = digits.replace(separator, ",")
    return bool(_WESTERN_GROUPS.fullmatch(text) or _INDIAN_GROUPS.fullmatch(text))
