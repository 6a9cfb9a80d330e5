"""The feature gate's decisions with a fake pricing source and no Redis (PostgreSQL decides).

Covers the rules the contract declares: a required feature, a quota lifted by
a feature, the errors the app sees, and time comparisons that make a stale
copy lapse on time.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from hisaab.common.v1 import errors_pb2

from libs.cache import Cache
from libs.clients.features.cache import EntitlementCache
from libs.clients.features.counter import QuotaCounter
from libs.clients.features.gate import FeatureGate
from libs.clients.features.holdings import Holdings
from libs.clients.features.source import Catalog, PackOffer, QuotaDef, QuotaState
from libs.clients.features.windows import Period, window
from libs.errors import NotAllowed, ResourceExhausted, Unavailable
from libs.rpc.descriptors import MethodRules

NOW = datetime(2026, 11, 25, 20, 0, tzinfo=UTC)  # 01:30 on the 26th in India
LIMIT = 3
RECEIPTS = MethodRules("/x.S/Upload", False, "receipts", "", "", True)
CREATE = MethodRules("/x.S/Create", False, "", "expenses_per_day", "unlimited_expenses", True)
FREE = MethodRules("/x.S/Get", False, "", "", "", True)
TRIP = PackOffer("packs/trip_7d", "Trip pass", 9900, "INR", 7 * 86400)
PRO = PackOffer("packs/pro_monthly", "Pro", 14900, "INR", None)


class FakePricing:
    """PostgreSQL as pricing-service would answer: holdings and counted uses."""

    def __init__(self) -> None:
        self.held: dict[str, dict[str, datetime | None]] = {}
        self.used: dict[str, set[str]] = {}
        self.checks = 0
        self.down = False

    def _usage(self, user: str, key: str) -> QuotaState:
        used = len(self.used.get(user, set()))
        unlimited = "unlimited_expenses" in self.held.get(user, {})
        reset = window(Period.DAILY, "Asia/Kolkata", NOW).reset
        return QuotaState(key, LIMIT, used, reset, unlimited, unlimited or used < LIMIT)

    async def check(self, user_id: str, quotas: Sequence[str]) -> tuple[Holdings, dict[str, QuotaState]]:
        if self.down:
            raise Unavailable("down")
        self.checks += 1
        held = self.held.get(user_id, {})
        ends = [e for e in held.values() if e is not None]
        holdings = Holdings(dict(held), min(ends, default=None))
        return holdings, {q: self._usage(user_id, q) for q in quotas}

    async def catalog(self) -> Catalog:
        return Catalog(
            {"receipts": [TRIP, PRO]},
            {
                "expenses_per_day": QuotaDef(
                    "expenses_per_day", LIMIT, Period.DAILY, "Asia/Kolkata", "unlimited_expenses"
                )
            },
        )

    async def record_usage(self, user_id: str, quota: str, request_id: str) -> QuotaState:
        self.used.setdefault(user_id, set()).add(request_id)
        return self._usage(user_id, quota)


def _gate(source: FakePricing, clock: list[datetime] | None = None) -> FeatureGate:
    now = clock or [NOW]
    # No Redis URL: every read is a miss, so each decision comes from the source.
    return FeatureGate(
        source, EntitlementCache(Cache("", prefix="t")), QuotaCounter(""), clock=lambda: now[0]
    )


async def test_a_missing_feature_is_denied_naming_the_feature_and_the_packs() -> None:
    gate = _gate(FakePricing())
    with pytest.raises(NotAllowed) as denied:
        await gate.admit(RECEIPTS, "asha")
    assert denied.value.reason == "FEATURE_REQUIRED"
    assert denied.value.metadata == {"feature": "receipts", "packs": "packs/trip_7d,packs/pro_monthly"}
    (detail,) = denied.value.details
    assert isinstance(detail, errors_pb2.FeatureRequired) and detail.feature == "receipts"
    trip, pro = detail.packs
    assert (trip.pack, trip.display_name, trip.price.amount_minor, trip.price.currency_code) == (
        "packs/trip_7d",
        "Trip pass",
        9900,
        "INR",
    )
    assert trip.duration.seconds == 7 * 86400 and trip.HasField("duration")
    assert pro.pack == "packs/pro_monthly" and not pro.HasField("duration")
    assert await gate.admit(FREE, "asha") is None


async def test_a_held_feature_admits_until_its_expiry_and_not_a_moment_later() -> None:
    source = FakePricing()
    source.held["asha"] = {"receipts": NOW + timedelta(hours=1)}
    clock = [NOW]
    gate = _gate(source, clock)
    assert await gate.admit(RECEIPTS, "asha") is None
    clock[0] = NOW + timedelta(hours=1)
    with pytest.raises(NotAllowed):
        await gate.admit(RECEIPTS, "asha")


def test_a_cached_copy_lapses_by_its_own_expiry_times() -> None:
    copy = Holdings.from_bytes(Holdings({"receipts": NOW, "charts": None}, NOW).to_bytes())
    assert not copy.holds("receipts", NOW) and copy.holds("receipts", NOW - timedelta(seconds=1))
    assert copy.holds("charts", NOW + timedelta(days=999)) and not copy.holds("export_pdf", NOW)


async def test_quota_admits_exactly_the_limit_then_says_when_it_resets() -> None:
    source = FakePricing()
    gate = _gate(source)
    for i in range(LIMIT):
        ticket = await gate.admit(CREATE, "ravi")
        assert ticket is not None
        await gate.commit(ticket, f"req-{i}")
    with pytest.raises(ResourceExhausted) as full:
        await gate.admit(CREATE, "ravi")
    assert full.value.reason == "QUOTA_EXCEEDED"
    # Midnight in India after 01:30 IST on the 26th is 18:30 UTC on the 26th.
    assert full.value.metadata == {
        "quota": "expenses_per_day",
        "limit": "3",
        "reset_time": "2026-11-26T18:30:00Z",
    }
    # Someone else's quota is their own.
    assert await gate.admit(CREATE, "meera") is not None


async def test_a_retried_request_id_counts_once_and_the_lifting_feature_skips_the_quota() -> None:
    source = FakePricing()
    gate = _gate(source)
    for _ in range(LIMIT + 2):
        ticket = await gate.admit(CREATE, "ravi")
        assert ticket is not None
        await gate.commit(ticket, "same-request")
    assert len(source.used["ravi"]) == 1
    source.held["ravi"] = {"unlimited_expenses": None}
    source.used["ravi"] = {str(i) for i in range(50)}
    assert await gate.admit(CREATE, "ravi") is None  # no ticket: nothing is counted


async def test_pricing_down_fails_closed_with_unavailable() -> None:
    source = FakePricing()
    source.down = True
    with pytest.raises(Unavailable):
        await _gate(source).admit(RECEIPTS, "asha")


def test_a_call_is_known_by_its_own_request_id_when_it_is_a_uuid() -> None:
    from types import SimpleNamespace

    from libs.clients.features.gate import _own_request_id

    rid = "5b0b8e1e-6a5e-4d55-9f43-3c7c1f2d9a10"
    assert _own_request_id(SimpleNamespace(request_id=rid.upper())) == rid
    assert _own_request_id(SimpleNamespace(request_id="not-a-uuid")) == ""
    assert _own_request_id(SimpleNamespace()) == ""
