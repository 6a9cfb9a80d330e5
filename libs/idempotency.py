"""Idempotent creates by ``request_id`` (AIP-155), inside the caller's unit of work.

The key is claimed first: a concurrent retry with the same id waits until the first
transaction ends, then reads its stored response. The same id with a different
request is refused.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from google.protobuf.message import Message
from psycopg.errors import UniqueViolation
from sqlalchemy.ext.asyncio import AsyncConnection

from libs.auth.caller import require_caller
from libs.db import batch
from libs.db.batch import Statement
from libs.db.unit_of_work import UnitOfWork
from libs.errors import InvalidArgument, RequestIdReused, Unavailable

M = TypeVar("M", bound=Message)
MAX_REQUEST_ID_LENGTH = 64


def request_fingerprint(request: Message) -> bytes:
    """Hash of the request without its request_id (deterministic serialization)."""
    copy = type(request)()
    copy.CopyFrom(request)
    if "request_id" in copy.DESCRIPTOR.fields_by_name:
        copy.ClearField("request_id")
    return hashlib.sha256(copy.SerializeToString(deterministic=True)).digest()


def validate_request_id(request_id: str, field: str = "request_id") -> None:
    if not request_id:
        return
    if len(request_id) > MAX_REQUEST_ID_LENGTH:
        raise InvalidArgument(field, f"at most {MAX_REQUEST_ID_LENGTH} characters")
    try:
        uuid.UUID(request_id)
    except ValueError:
        raise InvalidArgument(field, "must be a UUID") from None


@dataclass(frozen=True)
class Key:
    scope: str
    caller: str
    request_id: str


@dataclass(frozen=True)
class Stored:
    """What the first transaction with a key left: its request's fingerprint and answer."""

    fingerprint: bytes
    response: bytes


class KeyTaken(Exception):
    """A key claimed with the writes was already taken: the unit of work is rolled back."""


class Keys(Protocol):
    """The idempotency keys, inside the caller's unit of work."""

    async def claim(self, key: Key, fingerprint: bytes) -> Stored | None:
        """Takes the key for this unit of work (None), or gives what an earlier one
        stored. A concurrent claim of the same key waits until the first one ends."""

    async def claim_with_writes(self, key: Key, fingerprint: bytes) -> None:
        """Takes the key with the unit of work's first writes, saving a round trip of its
        own. When the key is taken, the unit of work fails (``is_taken`` says so) after
        the work ran, so the work must have no effect outside the unit of work."""

    async def stored(self, key: Key) -> Stored | None:
        """What the unit of work that took the key stored."""

    async def answer(self, key: Key, response: bytes) -> None:
        """Stores the answer of the unit of work that claimed the key."""


class WithKeys(Protocol):
    @property
    def keys(self) -> Keys: ...


class SqlKeys:
    """``kit.idempotency_keys``. The key row is inserted first, so a concurrent retry
    blocks on the primary key until the first transaction ends."""

    _INSERT = (
        "INSERT INTO kit.idempotency_keys (scope, caller, request_id, request_hash) "
        "VALUES (%(scope)s, %(caller)s, %(rid)s, %(hash)s)"
    )

    def __init__(self, conn: AsyncConnection):
        self._conn = conn

    async def claim(self, key: Key, fingerprint: bytes) -> Stored | None:
        statement = Statement(self._INSERT + " ON CONFLICT DO NOTHING RETURNING 1", _params(key, fingerprint))
        [claimed] = await batch.run(self._conn, [statement])
        return None if claimed else await self.stored(key)

    async def claim_with_writes(self, key: Key, fingerprint: bytes) -> None:
        # No ON CONFLICT: a taken key is a unique violation that fails the pipeline, so
        # nothing sent with it (or after it) commits.
        batch.lead(self._conn, Statement(self._INSERT, _params(key, fingerprint)))

    async def stored(self, key: Key) -> Stored | None:
        [rows] = await batch.run(
            self._conn,
            [
                Statement(
                    "SELECT request_hash, response FROM kit.idempotency_keys "
                    "WHERE scope = %(scope)s AND caller = %(caller)s AND request_id = %(rid)s",
                    _params(key),
                )
            ],
        )
        return Stored(bytes(rows[0].request_hash), bytes(rows[0].response or b"")) if rows else None

    async def answer(self, key: Key, response: bytes) -> None:
        # Sent with the COMMIT: a retry that finds the key finds the response too.
        batch.defer(
            self._conn,
            Statement(
                "UPDATE kit.idempotency_keys SET response = %(resp)s "
                "WHERE scope = %(scope)s AND caller = %(caller)s AND request_id = %(rid)s",
                {"scope": key.scope, "caller": key.caller, "rid": key.request_id, "resp": response},
            ),
        )


def _params(key: Key, fingerprint: bytes = b"") -> dict[str, object]:
    return {"scope": key.scope, "caller": key.caller, "rid": key.request_id, "hash": fingerprint}


def is_taken(error: BaseException) -> bool:
    """Whether ``error`` is a key claimed with the writes that another unit of work holds."""
    if isinstance(error, KeyTaken):
        return True
    cause = getattr(error, "orig", error)  # SQLAlchemy wraps the driver's errors
    return isinstance(cause, UniqueViolation) and cause.diag.constraint_name == "idempotency_keys_pkey"


class MemoryKeys:
    """The same keys in a dict, for use-case tests on a MemoryUnitOfWork (which runs one
    transaction at a time, so there is no concurrent claim to wait for)."""

    def __init__(self) -> None:
        self.kept: dict[Key, Stored] = {}

    async def claim(self, key: Key, fingerprint: bytes) -> Stored | None:
        if key in self.kept:
            return self.kept[key]
        self.kept[key] = Stored(fingerprint, b"")
        return None

    async def claim_with_writes(self, key: Key, fingerprint: bytes) -> None:
        if await self.claim(key, fingerprint) is not None:
            raise KeyTaken(key)

    async def stored(self, key: Key) -> Stored | None:
        return self.kept.get(key)

    async def answer(self, key: Key, response: bytes) -> None:
        self.kept[key] = Stored(self.kept[key].fingerprint, response)


R = TypeVar("R", bound=WithKeys)


@dataclass(frozen=True)
class Once(Generic[R, M]):
    """A create's "at most once per request_id", bound to its request by the servicer and
    handed to the use case. The use case decides what runs before the transaction (checks,
    calls to other services) and what runs inside it: calling this with that part opens
    a transaction of ``uow``, and a retry gets the stored answer instead.

    The caller comes from the RPC context, the id from the request's ``request_id``.
    With ``claim_with_writes`` the key goes out with the work's first writes instead of
    alone: one round trip fewer for a create whose work has no effect outside the
    transaction (a retry then rolls its writes back instead of never making them)."""

    uow: UnitOfWork[R]
    scope: str
    request: Message
    response_type: type[M]
    claim_with_writes: bool = False

    async def __call__(self, work: Callable[[R], Awaitable[M]]) -> M:
        caller = require_caller()
        request_id = str(getattr(self.request, "request_id", ""))
        validate_request_id(request_id)
        key = Key(self.scope, caller.user_id, request_id)
        fingerprint = request_fingerprint(self.request)
        try:
            async with self.uow.transaction() as repos:
                if not request_id:
                    return await work(repos)
                if self.claim_with_writes:
                    await repos.keys.claim_with_writes(key, fingerprint)
                else:
                    stored = await repos.keys.claim(key, fingerprint)
                    if stored is not None:
                        return self._replay(stored, fingerprint)
                response = await work(repos)
                await repos.keys.answer(key, response.SerializeToString())
                return response
        except Exception as err:
            if not (self.claim_with_writes and is_taken(err)):
                raise
        async with self.uow.transaction() as repos:
            stored = await repos.keys.stored(key)
        if stored is None:  # the holder rolled back after all: the client may try again
            raise Unavailable("another request with this request_id did not finish; retry it")
        return self._replay(stored, fingerprint)

    def _replay(self, stored: Stored, fingerprint: bytes) -> M:
        if stored.fingerprint != fingerprint:
            raise RequestIdReused("request_id was already used with a different request")
        return self.response_type.FromString(stored.response)
