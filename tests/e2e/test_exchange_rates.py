"""Exchange rates on the server, through Envoy: the daily job stores the source's rates, and
converted debts use them by default and say which day's rates they used.

The stack serves sample rates in the ECB's format (tools/devstack/rates.py) and queues
the rates job once at start; the job runs through the jobs queue, the notification worker
and settlement-service's RefreshExchangeRates, which fetches and stores them.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import pytest

from libs.db.database import Database
from libs.ledger.simplify import convert
from services.settlement.rates.ecb import parse
from tests.e2e.test_settlement_balances import new_group, record, settles
from tests.support import Api, Session
from tools.devstack.rates import document

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url, pool_size=2)
    yield database
    await database.close()


def _stored_rates(api: Api, who: Session, query: str = "") -> dict[str, Any]:
    """The stored rates, once the job queued at the stack's start has stored some."""
    deadline = time.monotonic() + 90
    while True:
        got = api.call("GET", f"/v1/exchangeRates{query}", who)
        if got.status_code == 200:
            return dict(got.json())
        assert got.status_code == 404, got.text
        assert time.monotonic() < deadline, "no exchange rates were stored"
        time.sleep(0.5)


def _day(value: dict[str, int]) -> date:
    return date(value["year"], value["month"], value["day"])


def test_stored_rates_are_the_sources_in_any_base(api: Api) -> None:
    asha = api.sign_in()
    sample = parse(document())
    in_rupees = _stored_rates(api, asha)
    assert in_rupees["base"] == "INR" and in_rupees["source"] == "ecb"
    assert {r["currencyCode"]: r["rate"] for r in in_rupees["rates"]} == sample.rates_in("INR")
    in_dollars = _stored_rates(api, asha, "?base=USD")
    assert {r["currencyCode"]: r["rate"] for r in in_dollars["rates"]} == sample.rates_in("USD")
    assert _day(in_dollars["ratesDate"]) == _day(in_rupees["ratesDate"])

    unknown = api.call("GET", "/v1/exchangeRates?base=XAU", asha)
    assert unknown.status_code == 400, unknown.text
    before_any = api.call(
        "GET", "/v1/exchangeRates?ratesDate.year=1970&ratesDate.month=1&ratesDate.day=1", asha
    )
    assert before_any.status_code == 404, before_any.text
    assert api.call("GET", "/v1/exchangeRates").status_code == 401


async def test_converted_debts_use_stored_rates_unless_the_body_brings_some(api: Api, db: Database) -> None:
    asha = api.sign_in()
    api.buy_pro(asha)
    group, (a, ravi, meera) = new_group(api, asha, ["Ravi", "Meera"])
    await record(db, group, "INR", {a: 60000, ravi: -30000, meera: -30000})
    await record(db, group, "USD", {a: -1250, ravi: 1250})
    stored = _stored_rates(api, asha)
    dollar = {r["currencyCode"]: r["rate"] for r in stored["rates"]}["USD"]

    got = api.call("GET", f"/v1/{group}/convertedDebts?convertTo=INR", asha)
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["ratesSource"] == "ecb"
    assert _day(body["ratesDate"]) == _day(stored["ratesDate"])
    assert body["rates"] == [{"currencyCode": "USD", "rate": dollar}]
    assert {t["amount"]["currencyCode"] for t in body["transfers"]} == {"INR"}
    # Converted exactly as the ledger converts (libs.ledger.simplify), at the rate reported.
    nets = convert(
        {"INR": {a: 60000, ravi: -30000, meera: -30000}, "USD": {a: -1250, ravi: 1250}},
        {"USD": dollar},
        "INR",
        seed=f"{group.removeprefix('groups/')}:INR",
    )
    assert settles(nets, body["transfers"])

    given = api.call(
        "POST",
        f"/v1/{group}/convertedDebts:convert",
        asha,
        json={"convertTo": "INR", "rates": [{"currencyCode": "USD", "rate": "80"}]},
    )
    assert given.status_code == 200, given.text
    assert given.json()["ratesSource"] == "client" and "ratesDate" not in given.json()
    # 12.50 USD at 80 = 1000.00 INR: Asha is owed 600 - 1000 = -400, Ravi -300 + 1000 = +700.
    assert settles({a: -40000, ravi: 70000, meera: -30000}, given.json()["transfers"])

    missing = api.call(
        "POST", f"/v1/{group}/convertedDebts:convert", asha, json={"convertTo": "INR", "rates": []}
    )
    assert missing.status_code == 400, missing.text
    assert "rates" in missing.text

    no_rate = api.call("GET", f"/v1/{group}/convertedDebts?convertTo=XAF", asha)
    assert no_rate.status_code == 400, no_rate.text
    assert "XAF" in no_rate.text
