"""The one formatter for human-readable amounts: CLDR patterns per locale, ISO decimals, exact."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from libs.money import CURRENCY_EXPONENTS, MAX_AMOUNT_MINOR, UnknownCurrency, parse_printed_amount
from libs.money_format import currencies, currency, format_money, format_number, to_decimal


@pytest.mark.parametrize(
    ("amount", "code", "locale", "text"),
    [
        (12345678, "INR", "en-IN", "₹1,23,456.78"),
        (12345678, "INR", "hi-IN", "₹1,23,456.78"),
        (1234567890, "INR", "en-IN", "₹1,23,45,678.90"),
        (-120000, "INR", "hi-IN", "-₹1,200.00"),
        (5, "INR", "en-IN", "₹0.05"),
        (0, "INR", "en-IN", "₹0.00"),
        (500, "JPY", "en-IN", "JP¥500"),
        (123456789, "JPY", "hi-IN", "JP¥12,34,56,789"),
        (1125, "KWD", "en-IN", "KWD 1.125"),
        (-1234567, "BHD", "hi-IN", "-BHD 1,234.567"),
        (1234567, "USD", "en-US", "$12,345.67"),
        (1250, "EUR", "de-DE", "12,50 €"),
    ],
)
def test_amounts_read_as_the_locale_writes_them(amount: int, code: str, locale: str, text: str) -> None:
    assert format_money(amount, code, locale) == text


def test_no_locale_or_an_unknown_one_reads_as_en_in() -> None:
    assert format_money(12345678, "INR") == format_money(12345678, "INR", "xx-YY") == "₹1,23,456.78"


def test_an_unknown_currency_is_refused_not_guessed() -> None:
    with pytest.raises(UnknownCurrency):
        format_money(100, "ZZZ")


def test_the_value_is_exact_at_any_size() -> None:
    assert str(to_decimal(MAX_AMOUNT_MINOR - 1, "INR")) == "9999999999.99"
    assert format_number(MAX_AMOUNT_MINOR - 1, "KWD", "en-IN") == "99,99,99,999.999"


@settings(max_examples=300)
@given(
    amount=st.integers(-MAX_AMOUNT_MINOR, MAX_AMOUNT_MINOR),
    code=st.sampled_from(["JPY", "INR", "USD", "KWD", "BHD", "CLF"]),
)
def test_format_then_parse_round_trips(amount: int, code: str) -> None:
    assert parse_printed_amount(format_number(amount, code, "en-IN"), code, allow_negative=True) == amount


def test_currencies_carry_exponent_symbol_and_name_in_the_language_asked() -> None:
    listed = currencies("en-IN")
    assert [c.code for c in listed] == sorted(CURRENCY_EXPONENTS)
    assert all(c.exponent == CURRENCY_EXPONENTS[c.code] and c.symbol and c.display_name for c in listed)
    inr = currency("INR", "en-IN")
    assert (inr.exponent, inr.symbol, inr.display_name) == (2, "₹", "Indian Rupee")
    assert currency("INR", "hi-IN").display_name == "भारतीय रुपया"
    assert (currency("JPY").exponent, currency("KWD").exponent) == (0, 3)
