"""Readable activity summaries, e.g. "Asha changed the amount from ₹1,200.00 to ₹1,500.00".

Pure; rendered when the feed is read, so the names shown are the users' current names and
the sentence is in the reader's language (English or Hindi, ``libs.languages``): the feed
stores structured details, never text. Amounts follow the reader's full locale (lakh
grouping for en-IN, the default).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any, Final

from libs import money_format
from libs.languages import Language, language

_QUOTE_LIMIT: Final = 80

# Every sentence and phrase of the feed, per language. Whole sentences, not fragments,
# because word order differs: Hindi puts the verb last ("Asha ne Ravi ko ... diya").
_TEXT: Final[dict[Language, dict[str, str]]] = {
    "en": {
        "someone": "someone",
        "Someone": "Someone",
        "and": " and ",
        "expense.created": "{actor} added {what} ({amount})",
        "expense.deleted": "{actor} deleted {what} ({amount})",
        "expense.restored": "{actor} restored {what} ({amount})",
        "expense.commented": "{actor} commented on {what}: {text}",
        "expense.edited": "{actor} edited {what}",
        "expense.changed": "{actor} changed {changes} on {what}",
        "change.amount": "the amount from {old} to {new}",
        "change.description": "the description from {old} to {new}",
        "change.date": "the date from {old} to {new}",
        "change.category": "the category from {old} to {new}",
        "change.payers": "who paid",
        "change.split": "the split",
        "change.other": "the {field}",
        "payment.settled": "recorded",
        "payment.deleted": "deleted",
        "payment.restored": "restored",
        "payment.to": "{actor} {verb} a payment of {amount} to {payee}",
        "payment.from": "{actor} {verb} a payment of {amount} from {payer}",
        "payment.between": "{actor} {verb} a payment of {amount} from {payer} to {payee}",
        "member.joined": "{actor} joined the group",
        "member.left": "{actor} left the group",
        "member.removed": "{actor} removed {member}",
        "member.added": "{actor} added {member}",
        "group.created": "{actor} created the group {name}",
        "group.created_unnamed": "{actor} created the group",
        "group.renamed_and_changed": "{actor} renamed the group to {name} and changed its {fields}",
        "group.renamed": "{actor} renamed the group to {name}",
        "group.changed_fields": "{actor} changed the group's {fields}",
        "group.changed": "{actor} changed the group",
        "field.description": "description",
        "field.simplify_debts": "debt simplification",
        "field.default_currency": "default currency",
    },
    "hi": {
        "someone": "कोई",
        "Someone": "किसी",
        "and": " और ",
        "expense.created": "{actor} ने {what} जोड़ा ({amount})",
        "expense.deleted": "{actor} ने {what} हटाया ({amount})",
        "expense.restored": "{actor} ने {what} वापस लाया ({amount})",
        "expense.commented": "{actor} ने {what} पर टिप्पणी की: {text}",
        "expense.edited": "{actor} ने {what} बदला",
        "expense.changed": "{actor} ने {what} में {changes} बदला",
        "change.amount": "राशि {old} से {new}",
        "change.description": "विवरण {old} से {new}",
        "change.date": "तारीख़ {old} से {new}",
        "change.category": "श्रेणी {old} से {new}",
        "change.payers": "किसने भुगतान किया",
        "change.split": "बँटवारा",
        "change.other": "{field}",
        "payment.settled": "दर्ज किया",
        "payment.deleted": "हटाया",
        "payment.restored": "वापस लाया",
        "payment.to": "{actor} ने {payee} को {amount} का भुगतान {verb}",
        "payment.from": "{actor} ने {payer} से {amount} का भुगतान {verb}",
        "payment.between": "{actor} ने {payer} से {payee} को {amount} का भुगतान {verb}",
        "member.joined": "{actor} समूह में शामिल हुए",
        "member.left": "{actor} ने समूह छोड़ा",
        "member.removed": "{actor} ने {member} को हटाया",
        "member.added": "{actor} ने {member} को जोड़ा",
        "group.created": "{actor} ने समूह {name} बनाया",
        "group.created_unnamed": "{actor} ने समूह बनाया",
        "group.renamed_and_changed": "{actor} ने समूह का नाम {name} रखा और उसका {fields} बदला",
        "group.renamed": "{actor} ने समूह का नाम {name} रखा",
        "group.changed_fields": "{actor} ने समूह का {fields} बदला",
        "group.changed": "{actor} ने समूह बदला",
        "field.description": "विवरण",
        "field.simplify_debts": "कर्ज़ सरलीकरण",
        "field.default_currency": "डिफ़ॉल्ट मुद्रा",
    },
}
_PAYMENT_VERBS: Final = frozenset({"settled", "deleted", "restored"})
_CHANGE_FIELDS: Final = frozenset({"amount", "description", "date", "category"})


def format_money(amount_minor: int, currency: str, locale: str = "") -> str:
    """₹1,200.00 for INR (Indian grouping), $12.50, JP¥500, KWD 1.125: the kit's one formatter."""
    return money_format.format_money(amount_minor, currency, locale)


def format_date(iso: str) -> str:
    day = date.fromisoformat(iso)
    return f"{day.day} {day.strftime('%b')} {day.year}"


def quote(text: str) -> str:
    short = text if len(text) <= _QUOTE_LIMIT else text[: _QUOTE_LIMIT - 1] + "…"
    return f"“{short}”"


class _Words:
    """One reader's phrases: their language's sentences, their locale's amounts."""

    def __init__(self, locale: str):
        self.text = _TEXT[language(locale)]
        self.locale = locale

    def __call__(self, key: str, **values: str) -> str:
        return self.text[key].format(**values)

    def money(self, amount_minor: int, currency: str) -> str:
        return format_money(amount_minor, currency, self.locale)

    def join(self, parts: Sequence[str]) -> str:
        return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + self.text["and"] + parts[-1]

    def name(self, names: Mapping[str, str], user_id: str) -> str:
        return names.get(user_id, "") or self.text["someone"]


def _change(w: _Words, change: Mapping[str, Any]) -> str:
    kind = change["field"]
    if kind == "amount":
        (c0, a0), (c1, a1) = change["from"], change["to"]
        return w("change.amount", old=w.money(a0, c0), new=w.money(a1, c1))
    if kind == "description":
        return w("change.description", old=quote(change["from"]), new=quote(change["to"]))
    if kind == "date":
        return w("change.date", old=format_date(change["from"]), new=format_date(change["to"]))
    if kind in _CHANGE_FIELDS:
        return w(f"change.{kind}", old=str(change["from"]), new=str(change["to"]))
    if kind in ("payers", "split"):
        return w(f"change.{kind}")
    return w("change.other", field=str(kind))


def _payment(
    w: _Words, actor: str, actor_id: str, verb: str, details: Mapping[str, Any], names: Mapping[str, str]
) -> str:
    """Asha recorded a payment of ₹500.00 to Ravi: the actor is usually one of the two."""
    values = {
        "actor": actor,
        "verb": w(f"payment.{verb}"),
        "amount": w.money(details["amount_minor"], details["currency"]),
        "payer": w.name(names, details.get("payer", "")),
        "payee": w.name(names, details.get("payee", "")),
    }
    if actor_id == details.get("payer"):
        return w("payment.to", **values)
    if actor_id == details.get("payee"):
        return w("payment.from", **values)
    return w("payment.between", **values)


def _member(w: _Words, actor: str, verb: str, details: Mapping[str, Any], names: Mapping[str, str]) -> str:
    member = w.name(names, details.get("user", ""))
    key = {"member_joined": "joined", "member_left": "left", "member_removed": "removed"}.get(verb, "added")
    return w(f"member.{key}", actor=actor, member=member)


def _group(w: _Words, actor: str, verb: str, details: Mapping[str, Any]) -> str:
    name = details.get("display_name", "")
    if verb == "created":
        return (
            w("group.created", actor=actor, name=quote(name))
            if name
            else w("group.created_unnamed", actor=actor)
        )
    others = [
        w.text.get(f"field.{f}", f.replace("_", " "))
        for f in details.get("fields", [])
        if f != "display_name"
    ]
    if name and others:
        return w("group.renamed_and_changed", actor=actor, name=quote(name), fields=w.join(others))
    if name:
        return w("group.renamed", actor=actor, name=quote(name))
    if others:
        return w("group.changed_fields", actor=actor, fields=w.join(others))
    return w("group.changed", actor=actor)


def summary(
    actor: str,
    verb: str,
    details: Mapping[str, Any],
    names: Mapping[str, str] | None = None,
    *,
    actor_id: str = "",
    locale: str = "",
) -> str:
    """One line for the feed; `actor` is a display name (of user `actor_id`; empty for one
    not known), `details` what the write stored, `names` the display names of the other
    people it mentions, `locale` the reader's (BCP 47; empty for the default)."""
    w = _Words(locale)
    actor = actor or w.text["Someone"]
    names = names or {}
    kind = details.get("kind")
    if kind == "settlement" and verb in _PAYMENT_VERBS:
        return _payment(w, actor, actor_id, verb, details, names)
    if kind == "member":
        return _member(w, actor, verb, details, names)
    if kind == "group":
        return _group(w, actor, verb, details)
    what = quote(details.get("description", ""))
    amount = w.money(details["amount_minor"], details["currency"]) if "currency" in details else ""
    if verb in ("created", "deleted", "restored"):
        return w(f"expense.{verb}", actor=actor, what=what, amount=amount)
    if verb == "commented":
        return w("expense.commented", actor=actor, what=what, text=quote(details.get("text", "")))
    if verb == "edited":
        parts = [_change(w, c) for c in details.get("changes", [])]
        if not parts:
            return w("expense.edited", actor=actor, what=what)
        return w("expense.changed", actor=actor, what=what, changes=w.join(parts))
    return f"{actor} {verb} {what}"
