"""Business counters: expenses created, settlements recorded, sign-in codes sent.

Expenses and settlements are counted by the outbox relay from the events it publishes
(``expense.created``, ``settlement.recorded``): the count follows what committed, costs
the request path nothing, and comes from one place whichever use case wrote the event.
A relay that dies between publishing and marking may count an event twice, as it
publishes it twice; that is rare and the counters are for trends, not accounts.
"""

from __future__ import annotations

from collections.abc import Iterable

from libs.metrics import instruments

_CHANNELS = {"sms": {"channel": "sms"}, "email": {"channel": "email"}}


def events_published(types: Iterable[str]) -> None:
    made = instruments.get()
    expenses = settlements = 0
    for kind in types:
        if kind == "expense.created":
            expenses += 1
        elif kind == "settlement.recorded":
            settlements += 1
    if expenses:
        made.expenses_created.add(expenses)
    if settlements:
        made.settlements_recorded.add(settlements)


def otp_sent(channel: str) -> None:
    name = channel.lower()
    instruments.get().otps_sent.add(1, _CHANNELS.get(name) or {"channel": name})
