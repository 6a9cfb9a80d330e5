"""Server interceptors build a method's wrapper once, and again only if what is below changes."""

from __future__ import annotations

from typing import Any

import grpc

from libs.rpc.wrapping import Behavior, UnaryWrapper


class Counting(UnaryWrapper):
    def __init__(self) -> None:
        super().__init__()
        self.built: list[str] = []

    async def wrap(self, method: str, inner: Behavior, handler: Any) -> Behavior | None:
        self.built.append(method)
        if method == "/s/Plain":
            return None

        async def behavior(request: Any, context: Any) -> Any:
            return ("wrapped", await inner(request, context))

        return behavior


class Details(grpc.HandlerCallDetails):
    def __init__(self, method: str):
        self.method = method
        self.invocation_metadata = ()


async def _echo(request: Any, context: Any) -> Any:
    return request


async def test_a_method_is_wrapped_once_and_answers_through_the_wrapper() -> None:
    interceptor = Counting()
    below = grpc.unary_unary_rpc_method_handler(_echo)

    async def continuation(details: Any) -> Any:
        return below

    handlers = [await interceptor.intercept_service(continuation, Details("/s/M")) for _ in range(3)]
    assert interceptor.built == ["/s/M"] and handlers[0] is handlers[1] is handlers[2]
    assert await handlers[0].unary_unary("x", None) == ("wrapped", "x")
    # A method left as it is comes back untouched, and is not asked about again either.
    plain = [await interceptor.intercept_service(continuation, Details("/s/Plain")) for _ in range(2)]
    assert plain == [below, below] and interceptor.built == ["/s/M", "/s/Plain"]


async def test_a_new_handler_below_is_wrapped_anew() -> None:
    interceptor = Counting()
    first, second = grpc.unary_unary_rpc_method_handler(_echo), grpc.unary_unary_rpc_method_handler(_echo)
    below = [first]

    async def continuation(details: Any) -> Any:
        return below[0]

    before = await interceptor.intercept_service(continuation, Details("/s/M"))
    below[0] = second
    after = await interceptor.intercept_service(continuation, Details("/s/M"))
    assert before is not after and interceptor.built == ["/s/M", "/s/M"]


async def test_streams_and_unknown_methods_pass_through() -> None:
    interceptor = Counting()

    async def stream(request: Any, context: Any) -> Any:
        yield request

    streaming = grpc.unary_stream_rpc_method_handler(stream)

    async def continuation(details: Any) -> Any:
        return streaming if details.method == "/s/Stream" else None

    assert await interceptor.intercept_service(continuation, Details("/s/Stream")) is streaming
    assert await interceptor.intercept_service(continuation, Details("/s/Missing")) is None
    assert interceptor.built == []
