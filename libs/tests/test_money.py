from __future__ import annotations

import pytest

from libs.money import (
    CURRENCY_EXPONENTS,
    MAX_AMOUNT_MINOR,
    InvalidAmount,
    InvalidField,
    UnknownCurrency,
    check_amount,
    exponent,
    is_known,
    parse_decimal_to_minor,
)


@pytest.mark.parametrize(
    ("code", "exp"),
    [("INR", 2), ("USD", 2), ("EUR", 2), ("JPY", 0), ("KRW", 0), ("KWD", 3), ("BHD", 3), ("CLF", 4)],
)
def test_exponents_follow_iso_4217(code: str, exp: int) -> None:
    assert is_known(code)
    assert exponent(code) == exp


def test_table_is_well_formed() -> None:
    assert len(CURRENCY_EXPONENTS) > 150
    for code, exp in CURRENCY_EXPONENTS.items():
        assert len(code) == 3
        assert code.isalpha()
        assert code.isupper()
        assert exp in (0, 2, 3, 4)


@pytest.mark.parametrize("code", ["inr", "XXX", "XAU", "HRK", "", "RUPEE"])
def test_unknown_currency_names_the_field(code: str) -> None:
    assert not is_known(code)
    with pytest.raises(UnknownCurrency) as err:
        exponent(code, field="expense.total.currency_code")
    assert err.value.field == "expense.total.currency_code"
    assert isinstance(err.value, ValueError)


@pytest.mark.parametrize(
    ("text", "code", "minor"),
    [
        ("12.34", "INR", 1234),
        ("12.3", "INR", 1230),
        ("12", "INR", 1200),
        ("0.05", "USD", 5),
        ("500", "JPY", 500),
        ("1.234", "KWD", 1234),
        ("0.001", "BHD", 1),
        (" 7.50 ", "INR", 750),
        ("10000000000.00", "INR", MAX_AMOUNT_MINOR),
    ],
)
def test_parse_decimal_to_minor(text: str, code: str, minor: int) -> None:
    assert parse_decimal_to_minor(text, code) == minor


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("12.345", "INR"),
        ("12.340", "INR"),
        ("500.5", "JPY"),
        ("500.", "JPY"),
        ("1.2345", "KWD"),
        ("", "INR"),
        ("abc", "INR"),
        (".5", "INR"),
        ("1e3", "INR"),
        ("1,000.00", "INR"),
        ("+1.00", "INR"),
        ("-1.00", "INR"),
        ("10000000000.01", "INR"),
    ],
)
def test_parse_rejects_with_field(text: str, code: str) -> None:
    with pytest.raises(InvalidAmount) as err:
        parse_decimal_to_minor(text, code, field="amount_text")
    assert err.value.field == "amount_text"


def test_parse_negative_when_allowed() -> None:
    assert parse_decimal_to_minor("-1.05", "INR", allow_negative=True) == -105


def test_parse_unknown_currency() -> None:
    with pytest.raises(UnknownCurrency):
        parse_decimal_to_minor("1.00", "ZZZ")


def test_check_amount() -> None:
    assert check_amount(0, "x") == 0
    assert check_amount(MAX_AMOUNT_MINOR, "x") == MAX_AMOUNT_MINOR
    assert check_amount(-3, "x", allow_negative=True) == -3
    for bad, kwargs in [
        (MAX_AMOUNT_MINOR + 1, {}),
        (-1, {}),
        (0, {"allow_zero": False}),
        (-MAX_AMOUNT_MINOR - 1, {"allow_negative": True}),
    ]:
        with pytest.raises(InvalidAmount) as err:
            check_amount(bad, "payers[0].paid_minor", **kwargs)
        assert err.value.field == "payers[0].paid_minor"
    for not_int in (True, 1.5, "12"):
        with pytest.raises(InvalidField):
            check_amount(not_int, "x")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("printed", "code", "minor"),
    [
        ("Rs. 1,23,456.00", "INR", 12345600),
        ("₹500/-", "INR", 50000),
        ("INR 2,200.55", "INR", 220055),
        ("Rs.2,200.55", "INR", 220055),
        ("1,234", "INR", 123400),
        ("$1,234.50", "USD", 123450),
        ("S$111.09", "SGD", 11109),
        ("12,50 €", "EUR", 1250),
        ("1.234,56", "EUR", 123456),
        ("¥1,200", "JPY", 1200),
        ("AED 45.5", "AED", 4550),
        ("KWD 1.250", "KWD", 1250),
        ("(40.00)", "INR", -4000),
        ("-50.00", "INR", -5000),
    ],
)
def test_printed_amounts_parse_exactly(printed: str, code: str, minor: int) -> None:
    from libs.money import parse_printed_amount

    assert parse_printed_amount(printed, code, allow_negative=True) == minor


@pytest.mark.parametrize("printed", ["12,3,4.00", "abc", "1.2.3", "1,23,4567.00", "1.234", "-5.00"])
def test_misread_amounts_are_refused_not_guessed(printed: str) -> None:
    from libs.money import parse_printed_amount

    with pytest.raises(InvalidAmount):
        parse_printed_amount(printed, "INR")
