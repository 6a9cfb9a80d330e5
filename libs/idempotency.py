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
from sqlalchemy.ext.asyncio import AsyncConnection

from libs.auth.caller import require_caller
from libs.db import batch
from libs.db.batch import Statement
from libs.db.unit_of_work import UnitOfWork
from libs.errors import InvalidArgument, RequestIdReused

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


class Keys(Protocol):
    """The idempotency keys, inside the caller's unit of work."""

    async def claim(self, key: Key, fingerprint: bytes) -> Stored | None:
        """Takes the key for this unit of work (None), or gives what an earlier one
        stored. A concurrent claim of the same key waits until the first one ends."""

    async def answer(self, key: Key, response: bytes) -> None:
        """Stores the answer of the unit of work that claimed the key."""


class WithKeys(Protocol):
    @property
    def keys(self) -> Keys: ...


class SqlKeys:
    """``kit.idempotency_keys``. The key row is inserted first, so a concurrent retry
    blocks on the primary key until the first transaction ends."""

    def __init__(self, conn: AsyncConnection):
        self._conn = conn

    async def claim(self, key: Key, fingerprint: bytes) -> Stored | None:
        params = {"scope": key.scope, "caller": key.caller, "rid": key.request_id}
        [claimed] = await batch.run(
            self._conn,
            [
                Statement(
                    "INSERT INTO kit.idempotency_keys (scope, caller, request_id, request_hash) "
                    "VALUES (%(scope)s, %(caller)s, %(rid)s, %(hash)s) ON CONFLICT DO NOTHING RETURNING 1",
                    {**params, "hash": fingerprint},
                )
            ],
        )
        if claimed:
            return None
        [stored] = await batch.run(
            self._conn,
            [
                Statement(
                    "SELECT request_hash, response FROM kit.idempotency_keys "
                    "WHERE scope = %(scope)s AND caller = %(caller)s AND request_id = %(rid)s",
                    params,
                )
            ],
        )
        row = stored[0]
        return Stored(bytes(row.request_hash), bytes(row.response or b""))

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


class MemoryKeys:
    """The same keys in a dict, for use-case tests on a MemoryUnitOfWork (which runs one
    transaction at a time, so there is no concurrent claim to wait for)."""

    def __init__(self) -> None:
        self.stored: dict[Key, Stored] = {}

    async def claim(self, key: Key, fingerprint: bytes) -> Stored | None:
        if key in self.stored:
            return self.stored[key]
        self.stored[key] = Stored(fingerprint, b"")
        return None

    async def answer(self, key: Key, response: bytes) -> None:
        self.stored[key] = Stored(self.stored[key].fingerprint, response)


R = TypeVar("R", bound=WithKeys)


@dataclass(frozen=True)
class Once(Generic[R, M]):
    """A create's "at most once per request_id", bound to its request by the servicer and
    handed to the use case. The use case decides what runs before the transaction (checks,
    calls to other services) and what runs inside it: calling this with that part opens
    a transaction of ``uow``, and a retry gets the stored answer instead.

    The caller comes from the RPC context, the id from the request's ``request_id``."""

    uow: UnitOfWork[R]
    scope: str
    request: Message
    response_type: type[M]

    async def __call__(self, work: Callable[[R], Awaitable[M]]) -> M:
        caller = require_caller()
        request_id = str(getattr(self.request, "request_id", ""))
        validate_request_id(request_id)
        async with self.uow.transaction() as repos:
            if not request_id:
                return await work(repos)
            key = Key(self.scope, caller.user_id, request_id)
            fingerprint = request_fingerprint(self.request)
            stored = await repos.keys.claim(key, fingerprint)
            if stored is not None:
                if stored.fingerprint != fingerprint:
                    raise RequestIdReused("request_id was already used with a different request")
                return self.response_type.FromString(stored.response)
            response = await work(repos)
            await repos.keys.answer(key, response.SerializeToString())
            return response
