"""Channels to other services: deadlines by default, identity attached, traced.

A call to a peer's REST-bound method forwards the current user's bearer token, as
the user would have sent it through the gateway. A call to an internal method
presents this service's own identity in ``authorization`` and, when a user is
behind the call, that user's own token in ``x-hisaab-user`` (``libs.rpc.internal``
explains why and how the receiver checks both). Metadata a caller sets itself wins.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import grpc

from libs.auth.caller import current_caller
from libs.auth.service_identity import ServiceToken
from libs.rpc.descriptors import is_internal_method
from libs.rpc.internal import USER_HEADER
from libs.settings import Settings
from libs.telemetry import client_interceptors


class Identity(Protocol):
    """What a channel needs of a service identity (``ServiceToken``): a current token."""

    def token(self) -> str: ...


class _Identify(grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[type-arg]
    """Adds the caller's identity (see the module docstring) and a default deadline to every call."""

    def __init__(self, default_timeout: float, identity: Identity | None):
        self._timeout = default_timeout
        self._identity = identity

    async def intercept_unary_unary(
        self,
        continuation: Callable[[Any, Any], Any],
        client_call_details: grpc.aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        metadata = list(client_call_details.metadata or [])
        if not any(k == "authorization" for k, _ in metadata):
            metadata += self._identify(client_call_details.method)
        details = grpc.aio.ClientCallDetails(
            method=client_call_details.method,
            timeout=client_call_details.timeout if client_call_details.timeout is not None else self._timeout,
            metadata=grpc.aio.Metadata(*metadata),
            credentials=client_call_details.credentials,
            wait_for_ready=client_call_details.wait_for_ready,
        )
        return await continuation(details, request)

    def _identify(self, method: str | bytes) -> list[tuple[str, str]]:
        caller = current_caller()
        path = method.decode() if isinstance(method, bytes) else method
        if self._identity is not None and is_internal_method(path):
            headers = [("authorization", f"Bearer {self._identity.token()}")]
            if caller is not None and not caller.service:
                headers.append((USER_HEADER, caller.token))
            return headers
        return [] if caller is None else [("authorization", f"Bearer {caller.token}")]


def channel(
    address: str, *, default_timeout: float = 3.0, identity: Identity | None = None
) -> grpc.aio.Channel:
    """A channel to ``address``; internal methods need ``identity`` (see :func:`peer_channel`)."""
    return grpc.aio.insecure_channel(
        address,
        interceptors=[*client_interceptors(), _Identify(default_timeout, identity)],  # type: ignore[list-item]
        options=[("grpc.keepalive_time_ms", 30_000), ("grpc.max_receive_message_length", 8 * 1024 * 1024)],
    )


_identities: dict[str, ServiceToken] = {}


def identity_of(settings: Settings) -> ServiceToken:
    """This process's service identity, one per process so its token is fetched once."""
    name = settings.service.name
    if name not in _identities:
        _identities[name] = ServiceToken(settings)
    return _identities[name]


def peer_channel(settings: Settings, peer: str) -> grpc.aio.Channel:
    """A channel from this service to ``peer`` (a name from ``libs.catalog``) as itself."""
    return channel(
        settings.peer(peer), default_timeout=settings.peer_timeout_seconds, identity=identity_of(settings)
    )
