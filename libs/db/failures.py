"""Database failures a client can retry, as domain errors.

A pool that found no free connection in time, a connection refused or dropped
(server restarted, failover), or a statement the server cancelled on its
timeout: none is the caller's fault and none left anything half-written (the
unit of work rolled back), so they leave as UNAVAILABLE or DEADLINE_EXCEEDED
with ErrorInfo instead of INTERNAL.
"""

from __future__ import annotations

import psycopg
from psycopg import errors as pg_errors
from sqlalchemy import exc as sa_exc

from libs.errors import DeadlineExceeded, DomainError, Unavailable

# Server-side cancellations: statement_timeout, lock_timeout and the like.
_TIMED_OUT = (pg_errors.QueryCanceled, pg_errors.LockNotAvailable)
# The connection failed or was closed, or the server is going away (restart, failover)
# or refused the transaction for now (serialization failure, deadlock).
_CONNECTION = (psycopg.OperationalError, psycopg.InterfaceError)


def retriable_error(err: BaseException) -> DomainError | None:
    """The domain error for a retriable database failure; None for anything else."""
    if isinstance(err, sa_exc.TimeoutError):  # no pooled connection came free in time
        return Unavailable("the database is busy; retry", reason="DATABASE_UNAVAILABLE")
    if isinstance(err, sa_exc.DBAPIError):
        if err.connection_invalidated:
            return Unavailable("the database connection was lost; retry", reason="DATABASE_UNAVAILABLE")
        err = err.orig if err.orig is not None else err
    if isinstance(err, _TIMED_OUT):
        return DeadlineExceeded("the database did not answer in time; retry", reason="DATABASE_TIMEOUT")
    if isinstance(err, _CONNECTION):
        return Unavailable("the database is unavailable; retry", reason="DATABASE_UNAVAILABLE")
    return None
