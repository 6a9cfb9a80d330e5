"""Change feeds for offline clients: one cursor, paging and access-revocation logic shared by
the expense, settlement and group feeds.

A feed hands out the current state of every row a client caches, oldest write first, keyed
by ``(writing transaction id, row key)``. Each write moves its row to the end of the feed, so
a client that applies changes in order ends up with the server's state, and a deleted row
stays as a tombstone. Only rows written by transactions that are over are handed out (the
repositories test the snapshot's xmin), so a cursor never skips a late commit.

The cursor is signed, bound to the feed and the caller, and never expires. Besides the
position it names the groups whose changes the client has received, so that:

* a group the caller no longer belongs to is reported once as revoked (the client drops its
  data) and is then forgotten;
* a group the caller joined after the position is first caught up from the beginning, up to
  the position (those rows were skipped while the caller was not a member), and then joins
  the main stream.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from libs import pagination
from libs.errors import InvalidArgument
from libs.validation import is_uuid

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 200
MAX_PAGE_SIZE = 500

# (writing transaction id as an integer, the row's key within the feed)
Key = tuple[int, str]
# Rows of `groups` with after < key <= upto (None: unbounded), oldest first, at most `limit`.
Fetch = Callable[[list[str], Key | None, Key | None, int], Awaitable[Sequence[T]]]

_CURSOR = "cursor"
_VERSION = 2


def page_size(requested: int) -> int:
    """1..500; 0 means the default (200). Anything else is INVALID_ARGUMENT naming page_size."""
    if requested == 0:
        return DEFAULT_PAGE_SIZE
    if not 1 <= requested <= MAX_PAGE_SIZE:
        raise InvalidArgument("page_size", f"must be between 1 and {MAX_PAGE_SIZE}")
    return requested


@dataclass(frozen=True)
class State:
    """Where a client is in a feed."""

    # The newest change of the main stream handed out; None before the first one.
    position: Key | None = None
    # Groups whose changes up to `position` were handed out; None for a cursor of the first
    # format, which did not record them (the caller's current groups are assumed).
    groups: frozenset[str] | None = frozenset()
    # Groups joined after `position`, being handed out from the beginning up to it.
    joining: frozenset[str] = frozenset()
    joining_position: Key | None = None


@dataclass(frozen=True)
class Page(Generic[T]):
    # Group ids the caller lost access to since the cursor, sorted.
    revoked: list[str]
    rows: list[T]
    state: State
    # More changes are ready: call again right away.
    has_more: bool = False


def _key_list(key: Key | None) -> list[Any]:
    return [None, None] if key is None else [key[0], key[1]]


def _key_of(xid: Any, row: Any) -> Key | None:
    if xid is None and row is None:
        return None
    if not isinstance(xid, int) or isinstance(xid, bool) or xid < 0 or not isinstance(row, str):
        raise InvalidArgument(_CURSOR, "not a token this API issued")
    return (xid, row)


def _ids(text: Any) -> frozenset[str]:
    if not isinstance(text, str):
        raise InvalidArgument(_CURSOR, "not a token this API issued")
    found = frozenset(g for g in text.split(",") if g)
    if not all(is_uuid(g) for g in found):
        raise InvalidArgument(_CURSOR, "not a token this API issued")
    return found


def encode(state: State, bound: dict[str, Any]) -> str:
    """The cursor for ``state``: signed, bound to ``bound`` (the feed and the caller), the
    method and the caller, and valid for ever."""
    key = [
        _VERSION,
        *_key_list(state.position),
        ",".join(sorted(state.groups or ())),
        ",".join(sorted(state.joining)),
        *_key_list(state.joining_position),
    ]
    return pagination.encode(key, bound, ttl=None)


def decode(token: str, bound: dict[str, Any]) -> State | None:
    """The state in ``token``; None for an empty token (a full sync). A cursor this API did not
    issue, or one of another feed or caller, is INVALID_ARGUMENT naming ``cursor``."""
    cursor = pagination.decode(token, bound, field=_CURSOR)
    if cursor is None:
        return None
    key = cursor.key
    if len(key) == 2:
        # The first format: only the position, with an expiry of its own.
        return State(position=_key_of(*key), groups=None)
    if len(key) != 7 or key[0] != _VERSION:
        raise InvalidArgument(_CURSOR, "not a token this API issued")
    position = _key_of(key[1], key[2])
    joining = _ids(key[4])
    joining_position = _key_of(key[5], key[6])
    if joining and position is None:
        raise InvalidArgument(_CURSOR, "not a token this API issued")
    return State(position=position, groups=_ids(key[3]), joining=joining, joining_position=joining_position)


async def read(
    state: State | None,
    current: Iterable[str],
    size: int,
    fetch: Fetch[T],
    key: Callable[[T], Key],
) -> Page[T]:
    """The next page of a feed over the groups the caller belongs to now (``current``).

    Revoked groups come first; then rows of groups being caught up; then the main stream.
    At most ``size`` rows are returned (revocations are not counted)."""
    state = state or State()
    now = frozenset(current)
    known = now if state.groups is None else state.groups
    revoked = sorted((known | state.joining) - now)
    groups = known & now
    joining = state.joining & now
    joining_position = state.joining_position if joining else None
    new = now - groups - joining
    waiting = False
    if state.position is None:
        # Nothing was handed out yet: the main stream starts at the beginning for every group.
        groups |= new
    elif new and not joining:
        joining = new
    elif new:
        waiting = True  # picked up once the groups being caught up have joined the main stream

    rows: list[T] = []
    position = state.position
    if joining:
        got = list(await fetch(sorted(joining), joining_position, position, size + 1))
        if len(got) > size:
            rows = got[:size]
            return Page(
                revoked,
                rows,
                State(position, groups, joining, key(rows[-1])),
                has_more=True,
            )
        rows = got
        groups |= joining
        joining, joining_position = frozenset(), None
    room = size - len(rows)
    more = waiting
    if groups and room > 0:
        got = list(await fetch(sorted(groups), position, None, room + 1))
        more = more or len(got) > room
        main = got[:room]
        if main:
            position = key(main[-1])
        rows += main
    elif groups:
        more = True
    return Page(revoked, rows, State(position, groups, joining, joining_position), has_more=more)
