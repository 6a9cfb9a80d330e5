"""Pure rules: recipients, outbox mapping, preferences, templates, backoff, reminder thresholds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hisaab.events.v1 import events_pb2 as ev

from libs.errors import InvalidArgument
from services.expense import summaries
from services.notification import domain, templates
from services.notification.domain import Channel, EventType, Preferences

NOW = datetime(2031, 3, 4, 13, 0, tzinfo=UTC)


def test_expense_event_goes_to_members_and_participants_never_the_actor() -> None:
    event = domain.from_event(
        "e1",
        ev.ExpenseChanged(
            group="g",
            expense="x",
            change=ev.CREATED,
            currency_code="INR",
            total_minor=45050,
            deltas={"a": 300, "d": -300},
        ),
        "groups/g/expenses/x",
        "a",
        NOW,
    )
    assert event is not None and event.type is EventType.EXPENSE_ADDED
    assert (event.attributes["amount_minor"], event.attributes["currency_code"]) == ("45050", "INR")
    assert domain.recipients(event, ["a", "b", "c"]) == ["b", "c", "d"]
    assert event.deep_link == "hisaab://groups/g/expenses/x"


def test_member_added_goes_only_to_the_added_person() -> None:
    added = ev.MemberChanged(group="g", user="b", change=ev.ADDED)
    event = domain.from_event("e2", added, "groups/g", "a", NOW)
    assert event is not None and domain.recipients(event, ["a", "b", "c"]) == ["b"]
    change = domain.membership_change(added, "a", 7)
    assert change == domain.MembershipChange("g", "b", True, 7)
    created = ev.GroupChanged(group="g", change=ev.CREATED)
    assert domain.membership_change(created, "a", 1) == domain.MembershipChange("g", "a", True, 1)
    left = ev.MemberChanged(group="g", user="b", change=ev.LEFT)
    assert domain.membership_change(left, "b", 9).present is False  # type: ignore[union-attr]


def test_state_only_events_notify_nobody() -> None:
    for kind in (
        ev.GroupChanged(group="g", change=ev.CREATED),
        ev.GroupChanged(group="g", change=ev.UPDATED),
        ev.MemberChanged(group="g", user="b", change=ev.JOINED),
        ev.UserActivated(user="b"),
        ev.RecurringRuleChanged(group="g", change=ev.CREATED),
    ):
        assert domain.from_event("e", kind, "groups/g", "a", NOW) is None


def test_settlement_reaches_payer_and_payee() -> None:
    event = domain.from_event(
        "e3",
        ev.SettlementChanged(
            group="g", change=ev.CREATED, payer="a", payee="z", currency_code="JPY", amount_minor=500
        ),
        "groups/g/settlements/s",
        "a",
        NOW,
    )
    assert event is not None and domain.recipients(event, []) == ["z"]
    assert (event.attributes["amount_minor"], event.attributes["currency_code"]) == ("500", "JPY")


def test_preference_defaults_and_in_app_rule() -> None:
    prefs = Preferences("u")
    assert prefs.enabled(EventType.EXPENSE_ADDED, Channel.IN_APP)
    assert prefs.enabled(EventType.EXPENSE_ADDED, Channel.PUSH)
    assert not prefs.enabled(EventType.EXPENSE_ADDED, Channel.SMS)
    assert prefs.enabled(EventType.EXPORT_READY, Channel.EMAIL)
    assert not prefs.enabled(EventType.WEEKLY_DIGEST, Channel.IN_APP)
    assert len(prefs.matrix()) == len(EventType) * len(Channel)
    domain.check_switch(EventType.BALANCE_REMINDER, Channel.IN_APP, False)
    with pytest.raises(InvalidArgument):
        domain.check_switch(EventType.EXPENSE_ADDED, Channel.IN_APP, False)


def test_templates_in_english_and_hindi_with_fallbacks() -> None:
    assert templates.render(
        EventType.EXPENSE_ADDED, "en-IN", {"actor": "Asha", "what": "Chai", "amount": "₹50.00"}
    ) == (
        "New expense",
        "Asha added Chai ₹50.00",
    )
    title, body = templates.render(EventType.EXPENSE_ADDED, "hi-IN", {})
    assert title == "नया खर्च" and body == "किसी ने एक खर्च जोड़ा"
    assert templates.render(EventType.EXPENSE_UPDATED, "en", {"restored": "1"})[0] == "Expense restored"
    for lang in ("en", "hi"):
        for kind in EventType:
            assert all(templates.render(kind, lang, {}))


@pytest.mark.parametrize(
    ("locale", "minor", "code", "body"),
    [
        ("en-IN", "12345678", "INR", "Asha added Chai ₹1,23,456.78"),
        ("hi-IN", "12345678", "INR", "Asha ने Chai जोड़ा ₹1,23,456.78"),
        ("en-IN", "500", "JPY", "Asha added Chai JP¥500"),
        ("hi-IN", "1125", "KWD", "Asha ने Chai जोड़ा KWD 1.125"),
        ("en-IN", "-1234567", "BHD", "Asha added Chai -BHD 1,234.567"),
    ],
)
def test_amounts_are_written_in_the_recipients_locale(locale: str, minor: str, code: str, body: str) -> None:
    values = {"actor": "Asha", "what": "Chai", "amount_minor": minor, "currency_code": code}
    assert templates.render(EventType.EXPENSE_ADDED, locale, values)[1] == body


def test_a_notification_and_the_activity_feed_write_an_amount_alike() -> None:
    event = domain.from_event(
        "e1",
        ev.SettlementChanged(
            group="g", change=ev.CREATED, payer="a", payee="z", currency_code="INR", amount_minor=30000
        ),
        "groups/g/settlements/s",
        "a",
        NOW,
    )
    assert event is not None
    _, body = templates.render(event.type, "en-IN", {**event.attributes, "actor": "Asha"})
    assert (
        body
        == f"Asha recorded a payment {summaries.format_money(30000, 'INR')}"
        == "Asha recorded a payment ₹300.00"
    )


def test_retry_backoff_doubles_and_is_capped() -> None:
    assert [domain.retry_delay(n).total_seconds() for n in (1, 2, 3)] == [5, 10, 20]
    assert domain.retry_delay(30) == domain.LONGEST_RETRY
    assert not domain.gives_up(domain.MAX_DELIVERY_ATTEMPTS - 1) and domain.gives_up(
        domain.MAX_DELIVERY_ATTEMPTS
    )


def test_reminder_threshold_and_local_hour() -> None:
    assert domain.owes_enough(-1000, "INR") and not domain.owes_enough(-999, "INR")
    assert not domain.owes_enough(5000, "INR")
    assert domain.owes_enough(-10, "JPY") and not domain.owes_enough(-9, "JPY")
    kolkata = Preferences("u", reminder_hour=19)
    assert domain.reminder_due(kolkata, datetime(2031, 3, 4, 13, 30, tzinfo=UTC))
    assert kolkata.local_day(datetime(2031, 3, 4, 20, 0, tzinfo=UTC)) == "2031-03-05"
    assert not domain.reminder_due(kolkata, datetime(2031, 3, 4, 13, 30, tzinfo=UTC) + timedelta(hours=1))
