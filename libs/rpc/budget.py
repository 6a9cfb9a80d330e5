"""A time budget for every request, so a stuck dependency costs a prompt answer.

The handler runs as a task of its own. When the budget runs out, the caller gets
DEADLINE_EXCEEDED at once and the task is cancelled in the background: a query
on a frozen database server does not end on cancellation (psycopg first asks
the server to cancel it, which a frozen server does not answer), and the
client must not wait for that. The unit of work rolls back as the task
unwinds, so nothing is half-written.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable
from typing import Any, TypeVar

from libs.errors import DeadlineExceeded, Unavailable

T = TypeVar("T")
log = logging.getLogger("hisaab.rpc")

# Kept alive until they have unwound (the loop only holds weak references to tasks).
_UNWINDING: set[asyncio.Task[Any]] = set()


def remaining(configured: float, deadline_left: float | None) -> float:
    """The budget of a request: the service's own limit, or less if the caller's deadline is nearer."""
    if deadline_left is None:
        return configured
    return max(0.0, min(configured, deadline_left))


def _unwound(task: asyncio.Task[Any]) -> None:
    _UNWINDING.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.debug("request finished after its budget", exc_info=task.exception())


class Closing:
    """Set once, when the server is about to stop: requests still running answer at once.

    An ``asyncio.Event`` would need a task per request to wait on it; this wakes the
    requests' own futures instead."""

    def __init__(self) -> None:
        self._set = False
        self._waiters: set[asyncio.Future[None]] = set()

    def set(self) -> None:
        self._set = True
        for waiter in self._waiters:
            _wake(waiter)

    def is_set(self) -> bool:
        return self._set

    def watch(self, waiter: asyncio.Future[None]) -> None:
        """``waiter`` is woken when this is set (at once if it already is)."""
        self._waiters.add(waiter)
        if self._set:
            _wake(waiter)

    def unwatch(self, waiter: asyncio.Future[None]) -> None:
        self._waiters.discard(waiter)


def _wake(waiter: asyncio.Future[Any], *_: object) -> None:
    if not waiter.done():
        waiter.set_result(None)


async def within(work: Awaitable[T], seconds: float, closing: Closing | None = None) -> T:
    """``await work``, or DeadlineExceeded after ``seconds``, or Unavailable once ``closing``
    is set (the server is about to stop); ``work`` is then cancelled."""
    loop = asyncio.get_running_loop()
    task: asyncio.Task[T] = asyncio.ensure_future(work)
    # One future, woken by whichever comes first: the work's end, the budget's, the server's.
    woken: asyncio.Future[None] = loop.create_future()
    wake = functools.partial(_wake, woken)
    task.add_done_callback(wake)
    timer = loop.call_later(seconds, wake)
    if closing is not None:
        closing.watch(woken)
    try:
        await woken
    except asyncio.CancelledError:  # the RPC itself was cancelled (client gone)
        task.cancel()
        raise
    finally:
        timer.cancel()
        task.remove_done_callback(wake)
        if closing is not None:
            closing.unwatch(woken)
    if task.done():
        return task.result()
    task.cancel()
    _UNWINDING.add(task)
    task.add_done_callback(_unwound)
    if closing is not None and closing.is_set():
        # Answered rather than cut off by the server's stop (which would say CANCELLED, a
        # code clients do not retry): a create retried with its request_id lands once.
        raise Unavailable("the server is shutting down; retry", reason="SHUTTING_DOWN")
    raise DeadlineExceeded(f"the request did not finish within {seconds:g}s; retry", reason="REQUEST_TIMEOUT")
