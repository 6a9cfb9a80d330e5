"""Pure pricing rules: renewals extend, coverage across chained grants, payment settlement states."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from libs.errors import FailedPrecondition
from services.pricing import domain
from services.pricing.domain import Grant, Order, OrderState, ProviderKind, Settle

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
WEEK = timedelta(days=7)


def grant(feature: str, start: datetime, expire: datetime | None, *, revoked: bool = False) -> Grant:
    return Grant(f"g-{feature}-{start.isoformat()}", "u1", feature, "trip_7d", "o1", start, expire,
                 NOW if revoked else None)  # fmt: skip


def order(state: OrderState, amount: int = 4900) -> Order:
    return Order("o1", "u1", "trip_7d", ("receipts",), WEEK, ProviderKind.RAZORPAY, "order_1", "INR", amount,
                 state, {}, "", "", NOW, None, NOW)  # fmt: skip


def test_rebuying_extends_from_the_end_of_the_current_chain() -> None:
    first = grant("receipts", NOW - timedelta(days=2), NOW + timedelta(days=5))
    start, end = domain.next_grant_window([first], "receipts", WEEK, NOW)
    assert start == NOW + timedelta(days=5) and end == NOW + timedelta(days=12)
    second = grant("receipts", start, end)
    # A third purchase goes after the second: the chain is followed, not just the current grant.
    start3, end3 = domain.next_grant_window([first, second], "receipts", WEEK, NOW)
    assert start3 == end and end3 == end + WEEK
    assert domain.held_features([first, second], NOW) == {"receipts": end}


def test_a_new_feature_or_a_lapsed_one_starts_now_and_lifetime_never_ends() -> None:
    lapsed = grant("charts", NOW - timedelta(days=9), NOW - timedelta(days=2))
    assert domain.next_grant_window([lapsed], "charts", WEEK, NOW) == (NOW, NOW + WEEK)
    assert domain.next_grant_window([], "receipts", None, NOW) == (NOW, None)
    forever = grant("receipts", NOW - timedelta(days=1), None)
    assert domain.held_features([forever], NOW) == {"receipts": None}


def test_revoked_and_future_grants_are_not_held_and_expire_time_is_the_earliest_change() -> None:
    revoked = grant("receipts", NOW - timedelta(days=1), NOW + WEEK, revoked=True)
    current = grant("charts", NOW - timedelta(days=1), NOW + timedelta(hours=3))
    later = grant("export_pdf", NOW + timedelta(hours=1), NOW + WEEK)
    grants = [revoked, current, later]
    assert domain.held_features(grants, NOW) == {"charts": NOW + timedelta(hours=3)}
    # The cached answer must end when export_pdf starts, before charts lapses.
    assert domain.expire_time(grants, NOW) == NOW + timedelta(hours=1)
    assert domain.expire_time([], NOW) is None
    assert not current.active(NOW + timedelta(hours=3))  # the end is exclusive


def test_settling_a_payment_grants_once_and_never_after_a_refund() -> None:
    assert domain.settle_payment(order(OrderState.CREATED)) is Settle.GRANT
    assert domain.settle_payment(order(OrderState.FAILED)) is Settle.GRANT
    assert domain.settle_payment(order(OrderState.PAID)) is Settle.ALREADY
    assert domain.settle_payment(order(OrderState.REFUNDED)) is Settle.IGNORE
    assert domain.settle_payment(order(OrderState.CREATED), 4900, "INR") is Settle.GRANT
    with pytest.raises(FailedPrecondition):
        domain.settle_payment(order(OrderState.CREATED), 100, "INR")
    with pytest.raises(FailedPrecondition):
        domain.settle_payment(order(OrderState.CREATED), 4900, "USD")
