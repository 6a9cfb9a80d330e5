"""Message text per event type and language (English and Hindi). Pure.

Placeholders: {actor} who did it, {what} the expense description, {amount},
{pack}, {owed}. A missing value falls back to a neutral word in the same
language, so a sparse event still reads as a sentence. {amount} is written from
the values "amount_minor" and "currency_code" by the kit's one formatter, in the
recipient's locale.
"""

from __future__ import annotations

from collections.abc import Mapping

from libs import money, money_format
from libs.languages import language
from services.notification.domain import EventType

E = EventType

_FALLBACKS = {
    "en": {"actor": "Someone", "what": "an expense", "amount": "", "pack": "your pack", "owed": ""},
    "hi": {"actor": "किसी", "what": "एक खर्च", "amount": "", "pack": "आपका पैक", "owed": ""},
}

# (title, body) per event type and language.
_TEMPLATES: dict[str, dict[EventType, tuple[str, str]]] = {
    "en": {
        E.EXPENSE_ADDED: ("New expense", "{actor} added {what} {amount}"),
        E.EXPENSE_UPDATED: ("Expense changed", "{actor} changed {what} {amount}"),
        E.EXPENSE_DELETED: ("Expense deleted", "{actor} deleted {what} {amount}"),
        E.COMMENT_ADDED: ("New comment", "{actor} commented on {what}"),
        E.SETTLEMENT_RECORDED: ("Payment recorded", "{actor} recorded a payment {amount}"),
        E.ADDED_TO_GROUP: ("Added to a group", "{actor} added you to a group"),
        E.BALANCE_REMINDER: ("Friendly reminder", "You owe {owed}. Settle up in Hisaab."),
        E.WEEKLY_DIGEST: ("Your week in Hisaab", "Here is what changed in your groups this week."),
        E.PACK_PURCHASED: ("Pack activated", "{pack} is active. Enjoy!"),
        E.PACK_EXPIRING: ("Pack ending soon", "{pack} ends in less than three days."),
        E.PACK_EXPIRED: ("Pack expired", "{pack} has ended."),
        E.EXPORT_READY: ("Export ready", "Your group export is ready to download."),
        E.RECURRING_EXPENSE_ADDED: ("Recurring expense added", "{what} {amount} was added on schedule"),
    },
    "hi": {
        E.EXPENSE_ADDED: ("नया खर्च", "{actor} ने {what} जोड़ा {amount}"),
        E.EXPENSE_UPDATED: ("खर्च बदला गया", "{actor} ने {what} बदला {amount}"),
        E.EXPENSE_DELETED: ("खर्च हटाया गया", "{actor} ने {what} हटाया {amount}"),
        E.COMMENT_ADDED: ("नई टिप्पणी", "{actor} ने {what} पर टिप्पणी की"),
        E.SETTLEMENT_RECORDED: ("भुगतान दर्ज हुआ", "{actor} ने भुगतान दर्ज किया {amount}"),
        E.ADDED_TO_GROUP: ("समूह में जोड़ा गया", "{actor} ने आपको एक समूह में जोड़ा"),
        E.BALANCE_REMINDER: ("याद दिलाना", "आपको {owed} चुकाने हैं। Hisaab में हिसाब बराबर करें।"),
        E.WEEKLY_DIGEST: ("आपका हफ़्ता", "इस हफ़्ते आपके समूहों में क्या बदला, देखें।"),
        E.PACK_PURCHASED: ("पैक चालू हुआ", "{pack} चालू है।"),
        E.PACK_EXPIRING: ("पैक जल्द ख़त्म होगा", "{pack} तीन दिन में ख़त्म हो जाएगा।"),
        E.PACK_EXPIRED: ("पैक ख़त्म", "{pack} ख़त्म हो गया है।"),
        E.EXPORT_READY: ("एक्सपोर्ट तैयार", "आपके समूह का एक्सपोर्ट डाउनलोड के लिए तैयार है।"),
        E.RECURRING_EXPENSE_ADDED: ("दोहराया गया खर्च", "{what} {amount} तय समय पर जोड़ा गया"),
    },
}

# "restored" reads differently from "changed".
_RESTORED = {
    "en": ("Expense restored", "{actor} restored {what} {amount}"),
    "hi": ("खर्च वापस आया", "{actor} ने {what} वापस लाया {amount}"),
}


def render(event_type: EventType, locale: str, values: Mapping[str, str]) -> tuple[str, str]:
    lang = language(locale)
    title, body = _TEMPLATES[lang][event_type]
    if event_type is EventType.EXPENSE_UPDATED and values.get("restored"):
        title, body = _RESTORED[lang]
    given = {k: v for k, v in values.items() if v}
    amount = _amount(values, locale)
    if amount:
        given["amount"] = amount
    filled = {**_FALLBACKS[lang], **given}
    return title.format_map(filled), " ".join(body.format_map(filled).split())


def _amount(values: Mapping[str, str], locale: str) -> str:
    code, minor = values.get("currency_code", ""), values.get("amount_minor", "")
    if not (money.is_known(code) and minor.removeprefix("-").isdigit()):
        return ""
    return money_format.format_money(int(minor), code, locale)
