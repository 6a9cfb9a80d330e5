"""Opaque page tokens (AIP-158): keyset cursors bound to the query that made them."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

from libs.errors import InvalidArgument

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100


def page_size(requested: int, *, default: int = DEFAULT_PAGE_SIZE, maximum: int = MAX_PAGE_SIZE) -> int:
    if requested < 0:
        raise InvalidArgument("page_size", "must not be negative")
    return min(requested or default, maximum)


def _fingerprint(query: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(query, sort_keys=True, default=str).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Cursor:
    key: list[Any]


def encode(key: list[Any], query: dict[str, Any]) -> str:
    raw = json.dumps({"k": key, "q": _fingerprint(query)}, separators=(",", ":"), default=str)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode(token: str, query: dict[str, Any]) -> Cursor | None:
    """The cursor in ``token``; None for the first page. The query must match the one that made it."""
    if not token:
        return None
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        key, fingerprint = data["k"], data["q"]
    except (ValueError, KeyError, TypeError):
        raise InvalidArgument("page_token", "not a token this API issued") from None
    if fingerprint != _fingerprint(query) or not isinstance(key, list):
        raise InvalidArgument("page_token", "belongs to a different query")
    return Cursor(key=key)


def page_of(
    found: Sequence[T], size: int, key: Callable[[T], list[Any]], query: dict[str, Any]
) -> tuple[list[T], str]:
    """The page to answer and the next page's token ("" on the last page), from rows read
    with ``limit=size + 1``: the extra row only says whether there is more. ``key`` is the
    keyset cursor of the page's last row."""
    page = list(found[:size])
    return page, encode(key(page[-1]), query) if len(found) > size else ""


class Created(Protocol):
    @property
    def created_at(self) -> datetime: ...

    @property
    def id(self) -> str: ...


def created_key(row: Created) -> list[Any]:
    """The cursor of lists ordered by creation time, ties broken by id."""
    return [row.created_at.isoformat(), row.id]
