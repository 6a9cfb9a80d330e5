"""Idempotent creates by ``request_id`` (AIP-155), inside the caller's transaction.

The key row is inserted first: a concurrent retry with the same id blocks on
the primary key until the first transaction ends, then reads its stored
response. The same id with a different request is refused.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from google.protobuf.message import Message
from sqlalchemy.ext.asyncio import AsyncConnection

from libs.auth.caller import require_caller
from libs.db import batch
from libs.db.batch import Statement
from libs.db.database import Database
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


async def _run_once(
    conn: AsyncConnection,
    *,
    scope: str,
    caller: str,
    request: Message,
    request_id: str,
    response_type: type[M],
    work: Callable[[], Awaitable[M]],
) -> M:
    if not request_id:
        return await work()
    fingerprint = request_fingerprint(request)
    key = {"scope": scope, "caller": caller, "rid": request_id}
    [claimed] = await batch.run(
        conn,
        [
            Statement(
                "INSERT INTO kit.idempotency_keys (scope, caller, request_id, request_hash) "
                "VALUES (%(scope)s, %(caller)s, %(rid)s, %(hash)s) ON CONFLICT DO NOTHING RETURNING 1",
                {**key, "hash": fingerprint},
            )
        ],
    )
    if not claimed:
        [stored] = await batch.run(
            conn,
            [
                Statement(
                    "SELECT request_hash, response FROM kit.idempotency_keys "
                    "WHERE scope = %(scope)s AND caller = %(caller)s AND request_id = %(rid)s",
                    key,
                )
            ],
        )
        row = stored[0]
        if bytes(row.request_hash) != fingerprint:
            raise RequestIdReused("request_id was already used with a different request")
        return response_type.FromString(bytes(row.response))
    response = await work()
    # Sent with the COMMIT: a retry that finds the key finds the response too.
    batch.defer(
        conn,
        Statement(
            "UPDATE kit.idempotency_keys SET response = %(resp)s "
            "WHERE scope = %(scope)s AND caller = %(caller)s AND request_id = %(rid)s",
            {**key, "resp": response.SerializeToString()},
        ),
    )
    return response


async def once_in_transaction(
    db: Database,
    scope: str,
    request: Message,
    response_type: type[M],
    work: Callable[[AsyncConnection], Awaitable[M]],
) -> M:
    """Runs ``work`` in a new transaction, at most once per (scope, caller, request_id).

    The servicers' one-liner for idempotent creates: the caller comes from the RPC
    context, the id from the request's ``request_id`` field.
    """
    caller = require_caller()
    request_id = str(getattr(request, "request_id", ""))
    validate_request_id(request_id)
    async with db.transaction() as conn:
        return await _run_once(
            conn,
            scope=scope,
            caller=caller.user_id,
            request=request,
            request_id=request_id,
            response_type=response_type,
            work=lambda: work(conn),
        )


@dataclass(frozen=True)
class Once(Generic[M]):
    """A create's "at most once per request_id", bound to its request by the servicer and
    handed to the use case. The use case decides what runs before the transaction (checks,
    calls to other services) and what runs inside it: calling this with that part opens
    the transaction, and a retry gets the stored answer instead."""

    db: Database
    scope: str
    request: Message
    response_type: type[M]

    async def __call__(self, work: Callable[[AsyncConnection], Awaitable[M]]) -> M:
        return await once_in_transaction(self.db, self.scope, self.request, self.response_type, work)
