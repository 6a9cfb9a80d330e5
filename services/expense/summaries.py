"""Readable activity summaries, e.g. "Asha changed the amount from ₹1,200.00 to ₹1,500.00".

Pure; rendered when the feed is read so the names shown are the users' current names.
Amounts follow the reader's locale (lakh grouping for en-IN, the default); the words are
English only for now: the feed stores structured details, so other languages can be
rendered from the same rows later.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any, Final

from libs import money_format

_QUOTE_LIMIT: Final = 80


def format_money(amount_minor: int, currency: str, locale: str = "") -> str:
    """₹1,200.00 for INR (Indian grouping), $12.50, JP¥500, KWD 1.125: the kit's one formatter."""
    return money_format.format_money(amount_minor, currency, locale)


def format_date(iso: str) -> str:
    day = date.fromisoformat(iso)
    return f"{day.day} {day.strftime('%b')} {day.year}"


def quote(text: str) -> str:
    short = text if len(text) <= _QUOTE_LIMIT else text[: _QUOTE_LIMIT - 1] + "…"
    return f"“{short}”"


def _join(parts: Sequence[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _change(change: Mapping[str, Any], locale: str) -> str:
    kind = change["field"]
    if kind == "amount":
        (c0, a0), (c1, a1) = change["from"], change["to"]
        return f"the amount from {format_money(a0, c0, locale)} to {format_money(a1, c1, locale)}"
    if kind == "description":
        return f"the description from {quote(change['from'])} to {quote(change['to'])}"
    if kind == "date":
        return f"the date from {format_date(change['from'])} to {format_date(change['to'])}"
    if kind == "category":
        return f"the category from {change['from']} to {change['to']}"
    if kind == "payers":
        return "who paid"
    if kind == "split":
        return "the split"
    return f"the {kind}"


# Group settings as the feed names them ("changed the group's description").
_GROUP_FIELDS: Final = {
    "description": "description",
    "simplify_debts": "debt simplification",
    "default_currency": "default currency",
}
_PAYMENT_VERB: Final = {"settled": "recorded", "deleted": "deleted", "restored": "restored"}


def _payment(
    actor: str, actor_id: str, verb: str, details: Mapping[str, Any], names: Mapping[str, str], locale: str
) -> str:
    """Asha recorded a payment of ₹500.00 to Ravi: the actor is usually one of the two."""
    amount = format_money(details["amount_minor"], details["currency"], locale)
    payer, payee = details.get("payer", ""), details.get("payee", "")
    who = f"{actor} {_PAYMENT_VERB[verb]} a payment of {amount}"
    if actor_id == payer:
        return f"{who} to {_name(names, payee)}"
    if actor_id == payee:
        return f"{who} from {_name(names, payer)}"
    return f"{who} from {_name(names, payer)} to {_name(names, payee)}"


def _name(names: Mapping[str, str], user_id: str) -> str:
    return names.get(user_id, "") or "someone"


def _member(actor: str, verb: str, details: Mapping[str, Any], names: Mapping[str, str]) -> str:
    member = _name(names, details.get("user", ""))
    if verb == "member_joined":
        return f"{actor} joined the group"
    if verb == "member_left":
        return f"{actor} left the group"
    if verb == "member_removed":
        return f"{actor} removed {member}"
    return f"{actor} added {member}"


def _group(actor: str, verb: str, details: Mapping[str, Any]) -> str:
    name = details.get("display_name", "")
    if verb == "created":
        return f"{actor} created the group {quote(name)}" if name else f"{actor} created the group"
    others = [
        _GROUP_FIELDS.get(f, f.replace("_", " ")) for f in details.get("fields", []) if f != "display_name"
    ]
    if name and others:
        return f"{actor} renamed the group to {quote(name)} and changed its {_join(others)}"
    if name:
        return f"{actor} renamed the group to {quote(name)}"
    if others:
        return f"{actor} changed the group's {_join(others)}"
    return f"{actor} changed the group"


def summary(
    actor: str,
    verb: str,
    details: Mapping[str, Any],
    names: Mapping[str, str] | None = None,
    *,
    actor_id: str = "",
    locale: str = "",
) -> str:
    """One line for the feed; `actor` is a display name (of user `actor_id`), `details`
    what the write stored, `names` the display names of the other people it mentions,
    `locale` the reader's (BCP 47; empty for the default)."""
    kind = details.get("kind")
    if kind == "settlement" and verb in _PAYMENT_VERB:
        return _payment(actor, actor_id, verb, details, names or {}, locale)
    if kind == "member":
        return _member(actor, verb, details, names or {})
    if kind == "group":
        return _group(actor, verb, details)
    what = quote(details.get("description", ""))
    amount = (
        format_money(details["amount_minor"], details["currency"], locale) if "currency" in details else ""
    )
    if verb == "created":
        return f"{actor} added {what} ({amount})"
    if verb == "deleted":
        return f"{actor} deleted {what} ({amount})"
    if verb == "restored":
        return f"{actor} restored {what} ({amount})"
    if verb == "commented":
        return f"{actor} commented on {what}: {quote(details.get('text', ''))}"
    if verb == "edited":
        parts = [_change(c, locale) for c in details.get("changes", [])]
        if not parts:
            return f"{actor} edited {what}"
        return f"{actor} changed {_join(parts)} on {what}"
    return f"{actor} {verb} {what}"
