"""Server interceptors that wrap a method's unary behaviour once, not on every call.

grpc.aio asks every interceptor for a handler on every call. Building a new closure and
handler each time is work that does not depend on the call: what an interceptor adds
depends only on the method. :class:`UnaryWrapper` builds it the first time a method is
called and hands back the same handler afterwards, as long as the handler below it is
the same one (the servicer's handlers are fixed at start-up, and every interceptor
below is a UnaryWrapper too).
"""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

Behavior = Callable[[Any, grpc.aio.ServicerContext[Any, Any]], Awaitable[Any]]


class UnaryWrapper(grpc.aio.ServerInterceptor):  # type: ignore[type-arg]
    """Subclasses say how to wrap one method's behaviour (:meth:`wrap`); None leaves it as is.
    Streaming methods pass through untouched."""

    def __init__(self) -> None:
        # method → (the handler below, the handler handed up for it)
        self._handlers: dict[str, tuple[Any, Any]] = {}

    @abc.abstractmethod
    async def wrap(self, method: str, inner: Behavior, handler: Any) -> Behavior | None:
        """What to run for ``method`` in place of ``inner`` (``handler`` is the whole handler
        below); None to leave it as it is."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Any]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> Any:
        handler = await continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        method: str = handler_call_details.method
        known = self._handlers.get(method)
        if known is not None and known[0] is handler:
            return known[1]
        behavior = await self.wrap(method, handler.unary_unary, handler)
        wrapped = (
            handler
            if behavior is None
            else grpc.unary_unary_rpc_method_handler(
                behavior,
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        )
        self._handlers[method] = (handler, wrapped)
        return wrapped
