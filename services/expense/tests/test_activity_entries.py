"""Settlement, member and group events as feed entries, and how the feed words them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hisaab.events.v1 import events_pb2 as ev

from services.expense import summaries
from services.expense.activity.entries import Entry, entry_id, from_event, people

GROUP = "0b6c1b4e-9a1d-4c55-8d1e-2f0e3c4b5a69"
AT = datetime(2026, 3, 14, 9, 30, tzinfo=UTC)
ASHA, RAVI, MEERA = "u-asha", "u-ravi", "u-meera"
NAMES = {ASHA: "Asha", RAVI: "Ravi", MEERA: "Meera"}


def _payment(change: ev.ChangeKind.ValueType, amount: int = 50000) -> ev.SettlementChanged:
    return ev.SettlementChanged(
        group=GROUP,
        settlement="s1",
        change=change,
        payer=ASHA,
        payee=RAVI,
        currency_code="INR",
        amount_minor=amount,
        transaction_date="2026-03-14",
    )


def _entry(message: ev.SettlementChanged | ev.MemberChanged | ev.GroupChanged, actor: str = ASHA) -> Entry:
    entry = from_event("e1", message, actor, AT)
    assert entry is not None
    return entry


def _said(entry: Entry) -> str:
    return summaries.summary(NAMES[entry.actor], entry.verb, entry.details, NAMES, actor_id=entry.actor)


def test_the_entry_id_is_the_events_so_a_redelivery_names_the_same_row() -> None:
    first = _entry(_payment(ev.CREATED))
    assert first.id == _entry(_payment(ev.CREATED)).id == entry_id("e1")
    assert entry_id("e2") != first.id
    assert (first.group_id, first.actor, first.created_at) == (GROUP, ASHA, AT)


@pytest.mark.parametrize(
    ("change", "verb", "payer_effect", "wording"),
    [
        (ev.CREATED, "settled", 50000, "Asha recorded a payment of ₹500.00 to Ravi"),
        (ev.DELETED, "deleted", -50000, "Asha deleted a payment of ₹500.00 to Ravi"),
        (ev.RESTORED, "restored", 50000, "Asha restored a payment of ₹500.00 to Ravi"),
    ],
)
def test_a_payment_moves_the_payer_up_and_the_payee_down_and_a_delete_undoes_it(
    change: ev.ChangeKind.ValueType, verb: str, payer_effect: int, wording: str
) -> None:
    entry = _entry(_payment(change))
    assert entry.verb == verb
    assert entry.subject == f"groups/{GROUP}/settlements/s1"
    assert (entry.currency, entry.amount_minor) == ("INR", 50000)
    assert entry.effects == {ASHA: payer_effect, RAVI: -payer_effect}
    assert sum(entry.effects.values()) == 0
    assert _said(entry) == wording
    assert people(entry.details) == [ASHA, RAVI]


def test_a_payment_is_worded_from_whoever_recorded_it() -> None:
    by_payee = _entry(_payment(ev.CREATED), actor=RAVI)
    assert _said(by_payee) == "Ravi recorded a payment of ₹500.00 from Asha"
    by_third = _entry(_payment(ev.CREATED), actor=MEERA)
    assert _said(by_third) == "Meera recorded a payment of ₹500.00 from Asha to Ravi"
    # The kit's one formatter: Indian grouping for rupees.
    large = _entry(_payment(ev.CREATED, amount=12345678))
    assert _said(large) == "Asha recorded a payment of ₹1,23,456.78 to Ravi"


@pytest.mark.parametrize(
    ("change", "actor", "verb", "wording"),
    [
        (ev.ADDED, ASHA, "member_invited", "Asha added Ravi"),
        (ev.JOINED, RAVI, "member_joined", "Ravi joined the group"),
        (ev.LEFT, RAVI, "member_left", "Ravi left the group"),
        (ev.REMOVED, ASHA, "member_removed", "Asha removed Ravi"),
    ],
)
def test_membership_changes(
    change: ev.MembershipChange.ValueType, actor: str, verb: str, wording: str
) -> None:
    entry = _entry(ev.MemberChanged(group=GROUP, user=RAVI, change=change), actor=actor)
    assert (entry.verb, entry.subject) == (verb, f"groups/{GROUP}/members/{RAVI}")
    assert entry.effects == {} and entry.currency == ""
    assert _said(entry) == wording
    assert people(entry.details) == [RAVI]


def test_a_member_with_no_name_yet_is_someone() -> None:
    entry = _entry(ev.MemberChanged(group=GROUP, user="u-new", change=ev.ADDED))
    assert _said(entry) == "Asha added someone"


@pytest.mark.parametrize(
    ("fields", "name", "wording"),
    [
        (["display_name"], "Goa", "Asha renamed the group to “Goa”"),
        (
            ["description", "display_name"],
            "Goa",
            "Asha renamed the group to “Goa” and changed its description",
        ),
        (
            ["description", "simplify_debts"],
            "",
            "Asha changed the group's description and debt simplification",
        ),
    ],
)
def test_group_updates_say_what_changed(fields: list[str], name: str, wording: str) -> None:
    entry = _entry(ev.GroupChanged(group=GROUP, change=ev.UPDATED, fields=fields, display_name=name))
    assert (entry.verb, entry.subject) == ("group_updated", f"groups/{GROUP}")
    assert _said(entry) == wording


def test_a_new_group_is_named() -> None:
    entry = _entry(ev.GroupChanged(group=GROUP, change=ev.CREATED, display_name="Goa trip"))
    assert (entry.verb, _said(entry)) == ("created", "Asha created the group “Goa trip”")


def test_events_the_feed_does_not_show_make_no_entry() -> None:
    assert from_event("e", ev.GroupChanged(group=GROUP, change=ev.UPDATED), ASHA, AT) is None
    assert from_event("e", ev.GroupChanged(group=GROUP, change=ev.CREATED), ASHA, AT) is None
    assert from_event("e", ev.MemberChanged(group="", user=RAVI, change=ev.ADDED), ASHA, AT) is None
    assert from_event("e", ev.SettlementChanged(group=GROUP, change=ev.UPDATED), ASHA, AT) is None
    assert from_event("e", ev.RecurringRuleChanged(group=GROUP, change=ev.CREATED), ASHA, AT) is None


def test_expense_summaries_are_unchanged() -> None:
    details = {"description": "Dinner", "currency": "INR", "amount_minor": 120000}
    assert summaries.summary("Asha", "created", details) == "Asha added “Dinner” (₹1,200.00)"
    assert summaries.summary("Asha", "deleted", details) == "Asha deleted “Dinner” (₹1,200.00)"


def test_amounts_follow_the_readers_locale() -> None:
    entry = _entry(_payment(ev.CREATED, amount=12345678))
    said = summaries.summary("Asha", entry.verb, entry.details, NAMES, actor_id=ASHA, locale="en-US")
    assert said == "Asha recorded a payment of ₹123,456.78 to Ravi"
    details = {"description": "Rent", "currency": "INR", "amount_minor": 12345678}
    assert summaries.summary("Asha", "created", details, locale="en-US") == "Asha added “Rent” (₹123,456.78)"
    assert summaries.summary("Asha", "created", details) == "Asha added “Rent” (₹1,23,456.78)"


def test_a_hindi_reader_reads_the_feed_in_hindi() -> None:
    payment = _entry(_payment(ev.CREATED))
    said = summaries.summary(
        "आशा", payment.verb, payment.details, {RAVI: "रवि"}, actor_id=ASHA, locale="hi-IN"
    )
    assert said == "आशा ने रवि को ₹500.00 का भुगतान दर्ज किया"
    joined = _entry(ev.MemberChanged(group=GROUP, user=RAVI, change=ev.JOINED), actor=RAVI)
    assert summaries.summary("रवि", joined.verb, joined.details, locale="hi-IN") == "रवि समूह में शामिल हुए"
    details = {"description": "Dinner", "currency": "INR", "amount_minor": 120000}
    assert summaries.summary("आशा", "created", details, locale="hi-IN") == "आशा ने “Dinner” जोड़ा (₹1,200.00)"
    edit = {"description": "Dinner", "changes": [{"field": "split"}, {"field": "payers"}]}
    assert (
        summaries.summary("आशा", "edited", edit, locale="hi")
        == "आशा ने “Dinner” में बँटवारा और किसने भुगतान किया बदला"
    )


@pytest.mark.parametrize(
    ("locale", "wording"), [("", "Someone added “Tea” (₹10.00)"), ("hi-IN", "किसी ने “Tea” जोड़ा (₹10.00)")]
)
def test_an_actor_with_no_name_is_someone_in_the_readers_language(locale: str, wording: str) -> None:
    details = {"description": "Tea", "currency": "INR", "amount_minor": 1000}
    assert summaries.summary("", "created", details, locale=locale) == wording
