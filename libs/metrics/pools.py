"""Database connection pools, read at export time (SQLAlchemy's QueuePool counters)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from libs.metrics import instruments, names

_POOL = "db.client.connection.pool.name"
_STATE = "db.client.connection.state"
_pools: list[tuple[str, Any, Callable[[], int]]] = []


def _counts() -> list[tuple[float, dict[str, Any]]]:
    out: list[tuple[float, dict[str, Any]]] = []
    for name, pool, kept in _pools:
        # Connections kept between units of work are out of SQLAlchemy's pool but idle.
        idle = kept()
        out.append((pool.checkedout() - idle, {_POOL: name, _STATE: "used"}))
        out.append((pool.checkedin() + idle, {_POOL: name, _STATE: "idle"}))
    return out


def _limits() -> list[tuple[float, dict[str, Any]]]:
    # QueuePool: ``size`` kept open plus as many overflow connections again.
    return [
        (pool.size() + max(0, getattr(pool, "_max_overflow", 0)), {_POOL: name}) for name, pool, _ in _pools
    ]


def watch(name: str, engine: AsyncEngine, *, kept: Callable[[], int] = lambda: 0) -> None:
    """Report ``engine``'s pool as ``name`` (writer, reader) from now on; ``kept`` counts
    its connections that are checked out but idle (libs.db.database keeps some)."""
    pool = engine.sync_engine.pool
    if not hasattr(pool, "checkedout"):
        return  # NullPool and friends keep nothing to report
    if not _pools:
        instruments.observe(
            names.DB_CONNECTIONS, "updown", "{connection}", "Pooled connections by state", _counts
        )
        instruments.observe(
            names.DB_CONNECTIONS_MAX,
            "updown",
            "{connection}",
            "Most connections the pool opens",
            _limits,
        )
    _pools.append((name, pool, kept))
