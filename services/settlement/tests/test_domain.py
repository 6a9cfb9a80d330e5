"""Settle-up rules without I/O: postings, debt plans, totals, rates and UPI links."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from libs.errors import InvalidArgument
from libs.ledger.postings import nets
from libs.ledger.simplify import EXACT_LIMIT, greedy
from services.settlement import domain


def test_a_payment_moves_the_payer_up_and_the_payee_down() -> None:
    entry = domain.postings("ravi", "asha", 2500)
    assert nets(entry) == {"asha": -2500, "ravi": 2500}
    assert sum(p.paid_minor for p in entry.values()) == sum(p.owed_minor for p in entry.values()) == 2500


def test_plan_is_optimal_grouped_by_currency_and_largest_first() -> None:
    people = [f"u{i}" for i in range(7)]
    inr = dict(zip(people, [9, -8, 6, -2, 3, 4, -12], strict=True))
    transfers, optimal = domain.plan({"USD": {"a": -5, "b": 5}, "INR": inr})
    assert optimal
    inr_plan = [t for t in transfers if t.currency == "INR"]
    assert len(inr_plan) == 5 < len(greedy(inr))
    assert [t.currency for t in transfers] == ["INR"] * 5 + ["USD"]
    assert [t.amount_minor for t in inr_plan] == sorted((t.amount_minor for t in inr_plan), reverse=True)
    settled = dict(inr)
    for t in inr_plan:
        settled[t.payer] += t.amount_minor
        settled[t.payee] -= t.amount_minor
    assert set(settled.values()) == {0}
    assert domain.plan({"INR": dict(reversed(list(inr.items())))}) == domain.plan({"INR": inr})


def test_optimal_is_false_only_when_the_greedy_fallback_ran() -> None:
    big = {f"u{i:02d}": (i + 1) * (1 if i % 2 else -1) for i in range(EXACT_LIMIT + 2)}
    big["zz"] = -sum(big.values())
    assert not domain.exactly_solvable(big)
    # opposite pairs are settled first, so many of them still leave an exact problem
    pairs = {f"p{i:02d}": i + 1 for i in range(EXACT_LIMIT)} | {
        f"n{i:02d}": -(i + 1) for i in range(EXACT_LIMIT)
    }
    assert domain.exactly_solvable(pairs)
    assert domain.plan({"INR": pairs})[1]


def test_totals_and_order_of_my_groups() -> None:
    by_group = {"g1": {"INR": 500, "USD": -20}, "g2": {"INR": -1200}, "g3": {"INR": 300}}
    owed, owes = domain.totals(by_group)
    assert owed == {"INR": 800}
    assert owes == {"INR": 1200, "USD": 20}
    assert domain.largest_first(by_group) == ["g2", "g1", "g3"]


@pytest.mark.parametrize("rate", ["83.4150", "1", "0.0000000001"])
def test_rates_accepted(rate: str) -> None:
    assert domain.check_rate(rate, "rates[0].rate") == rate


@pytest.mark.parametrize("rate", ["", "0", "0.000", "-1", "1e3", "83.12345678901", "NaN", "1.5.2"])
def test_rates_refused_name_the_field(rate: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        domain.check_rate(rate, "rates[2].rate")
    assert err.value.field == "rates[2].rate"


def test_upi_uri_is_encoded_and_in_rupees() -> None:
    uri = domain.upi_uri("asha.k@okbank", "Asha K & Co", 123405, "Goa trip: fuel+food")
    assert uri.startswith("upi://pay?pa=asha.k@okbank&pn=Asha%20K%20%26%20Co&am=1234.05&cu=INR&tn=")
    query = parse_qs(urlsplit(uri).query)
    assert query == {
        "pa": ["asha.k@okbank"],
        "pn": ["Asha K & Co"],
        "am": ["1234.05"],
        "cu": ["INR"],
        "tn": ["Goa trip: fuel+food"],
    }
    assert "tn=" not in domain.upi_uri("a@b", "A", 5, "")
    assert "am=0.05&" in domain.upi_uri("a@b", "A", 5, "")
