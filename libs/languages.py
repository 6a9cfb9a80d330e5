"""The languages people read Hisaab's sentences in (notifications, the activity feed).

Amounts and dates follow the full locale through the kit's formatter; the words come in
these languages, picked from the locale's language subtag, with English for the rest.
"""

from __future__ import annotations

from typing import Final, Literal

Language = Literal["en", "hi"]
LANGUAGES: Final[tuple[Language, ...]] = ("en", "hi")


def language(locale: str) -> Language:
    """The language for a BCP 47 locale: Hindi for hi-*, English otherwise."""
    return "hi" if locale.lower().split("-")[0] == "hi" else "en"
