"""Opaque page tokens (AIP-158): keyset cursors, signed with a key from configuration and bound
to the query, the method and the caller that made them, with an expiry.

A token is checked before anything in it is used, so no edited, foreign or stale token
reaches a query: each is INVALID_ARGUMENT naming the field.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Protocol, TypeVar

from libs import clock, settings
from libs.auth.caller import current_caller, current_method
from libs.errors import InvalidArgument

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100


def page_size(requested: int, *, default: int = DEFAULT_PAGE_SIZE, maximum: int = MAX_PAGE_SIZE) -> int:
    if requested < 0:
        raise InvalidArgument("page_size", "must not be negative")
    return min(requested or default, maximum)


PAGE_TOKEN_TTL = timedelta(days=1)
_SIGNATURE_BYTES = 16
_SCALARS = (str, int, float, bool, type(None))


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode((text + "=" * (-len(text) % 4)).encode())


@lru_cache(maxsize=1)
def _key() -> bytes:
    return settings.page_token_key()


def _fingerprint(query: dict[str, Any]) -> str:
    """The query, the method serving it and the caller: a token is good for that list only."""
    caller = current_caller()
    bound = {"q": query, "m": current_method(), "u": caller.user_id if caller else ""}
    return hashlib.sha256(json.dumps(bound, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _sign(body: str) -> str:
    return _b64(hmac.new(_key(), body.encode(), hashlib.sha256).digest()[:_SIGNATURE_BYTES])


@dataclass(frozen=True)
class Cursor:
    key: list[Any]


def encode(key: list[Any], query: dict[str, Any], *, ttl: timedelta | None = PAGE_TOKEN_TTL) -> str:
    """An opaque token for the page after ``key``: signed, bound to this query, method and
    caller, and good until ``ttl`` from now (``None``: for ever, as change-feed cursors)."""
    expires = 0 if ttl is None else int((clock.now() + ttl).timestamp())
    body = _b64(
        json.dumps(
            {"k": key, "q": _fingerprint(query), "e": expires}, separators=(",", ":"), default=str
        ).encode()
    )
    return f"{body}.{_sign(body)}"


def decode(token: str, query: dict[str, Any], *, field: str = "page_token") -> Cursor | None:
    """The cursor in ``token``; None for the first page. A token that this API did not issue,
    was altered, belongs to another list or caller, or has expired is INVALID_ARGUMENT."""
    if not token:
        return None
    body, _, signature = token.partition(".")
    if not body or not hmac.compare_digest(signature.encode(), _sign(body).encode()):
        raise InvalidArgument(field, "not a token this API issued")
    try:
        data = json.loads(_unb64(body))
        key, fingerprint, expires = data["k"], data["q"], data["e"]
    except (ValueError, KeyError, TypeError):
        raise InvalidArgument(field, "not a token this API issued") from None
    if (
        not isinstance(key, list)
        or not all(isinstance(v, _SCALARS) for v in key)
        or fingerprint != _fingerprint(query)
    ):
        raise InvalidArgument(field, "belongs to a different query")
    if not isinstance(expires, int) or (expires != 0 and clock.now().timestamp() >= expires):
        raise InvalidArgument(field, "has expired; start again from the first page")
    return Cursor(key=key)


def page_of(
    found: Sequence[T], size: int, key: Callable[[T], list[Any]], query: dict[str, Any]
) -> tuple[list[T], str]:
    """The page to answer and the next page's token ("" on the last page), from rows read
    with ``limit=size + 1``: the extra row only says whether there is more. ``key`` is the
    keyset cursor of the page's last row."""
    page = list(found[:size])
    return page, encode(key(page[-1]), query) if len(found) > size else ""


class PageRequest(Protocol):
    """A List request (AIP-158): how many rows it wants and where the last page ended."""

    @property
    def page_size(self) -> int: ...

    @property
    def page_token(self) -> str: ...


@dataclass(frozen=True)
class Page:
    """One List call's page, read from its request: how many rows, from where, and the query
    its tokens are bound to. A servicer reads ``limit`` rows after ``after`` and answers
    ``cut(rows, key)``; the size, token and one-extra-row rules live only here."""

    size: int
    after: list[Any] | None
    query: dict[str, Any]

    @classmethod
    def of(cls, request: PageRequest, query: dict[str, Any]) -> Page:
        size = page_size(request.page_size)
        cursor = decode(request.page_token, query)
        return cls(size, cursor.key if cursor else None, query)

    @property
    def limit(self) -> int:
        """The rows to read: one more than the page, to learn whether another page follows."""
        return self.size + 1

    @property
    def after_one(self) -> Any:
        """The cursor of a list keyed by one value (None on the first page)."""
        return self.after[0] if self.after else None

    def cut(self, found: Sequence[T], key: Callable[[T], list[Any]]) -> tuple[list[T], str]:
        return page_of(found, self.size, key, self.query)


class Created(Protocol):
    @property
    def created_at(self) -> datetime: ...

    @property
    def id(self) -> str: ...


def created_key(row: Created) -> list[Any]:
    """The cursor of lists ordered by creation time, ties broken by id."""
    return [row.created_at.isoformat(), row.id]
