"""Domain events: each message has one wire name, and the JSON form decodes to the same message."""

from __future__ import annotations

from hisaab.events.v1 import events_pb2 as ev

from libs import events


def test_names_are_the_ones_subscriptions_filter_on() -> None:
    assert events.type_name(ev.ExpenseChanged(change=ev.UPDATED)) == "expense.updated"
    assert events.type_name(ev.SettlementChanged(change=ev.CREATED)) == "settlement.recorded"
    assert events.type_name(ev.MemberChanged(change=ev.LEFT)) == "member.left"
    assert events.type_name(ev.RecurringRuleChanged(change=ev.DELETED)) == "recurring_expense.deleted"
    assert events.type_name(ev.ExportReady()) == "export.ready"
    assert events.type_name(ev.UserUpdated(user="u", fields=["display_name"])) == "user.updated"
    assert events.decode("user.updated", {"user": "u", "fields": ["display_name"]}) == ev.UserUpdated(
        user="u", fields=["display_name"]
    )


def test_an_event_round_trips_through_its_json_form() -> None:
    sent = ev.ExpenseChanged(
        group="g", expense="x", change=ev.RESTORED, currency_code="INR", total_minor=12345, deltas={"a": -5}
    )
    payload = events.encode(sent)
    assert payload["group"] == "g" and payload["change"] == "RESTORED"
    assert events.decode(events.type_name(sent), payload) == sent


def test_an_unknown_event_decodes_to_nothing() -> None:
    assert events.decode("lunar.eclipse", {"group": "g"}) is None
