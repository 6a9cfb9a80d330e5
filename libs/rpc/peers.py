"""Channels to other services: deadlines by default, the caller's token forwarded, traced."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc

from libs.auth.caller import current_caller
from libs.telemetry import client_interceptors


class _ForwardCaller(grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[type-arg]
    """Adds the current caller's bearer token and a default deadline to every call."""

    def __init__(self, default_timeout: float):
        self._timeout = default_timeout

    async def intercept_unary_unary(
        self,
        continuation: Callable[[Any, Any], Any],
        client_call_details: grpc.aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        metadata = list(client_call_details.metadata or [])
        caller = current_caller()
        if caller is not None and not any(k == "authorization" for k, _ in metadata):
            metadata.append(("authorization", f"Bearer {caller.token}"))
        details = grpc.aio.ClientCallDetails(
            method=client_call_details.method,
            timeout=client_call_details.timeout if client_call_details.timeout is not None else self._timeout,
            metadata=grpc.aio.Metadata(*metadata),
            credentials=client_call_details.credentials,
            wait_for_ready=client_call_details.wait_for_ready,
        )
        return await continuation(details, request)


def channel(address: str, *, default_timeout: float = 3.0) -> grpc.aio.Channel:
    return grpc.aio.insecure_channel(
        address,
        interceptors=[*client_interceptors(), _ForwardCaller(default_timeout)],  # type: ignore[list-item]
        options=[("grpc.keepalive_time_ms", 30_000), ("grpc.max_receive_message_length", 8 * 1024 * 1024)],
    )
