"""The one server interceptor: authentication, caller context, and error mapping.

Every unary RPC handler is wrapped so that, in order: the bearer token is
verified (unless the contract marks the method public), the caller is put in a
context variable for the use case, and any exception is turned into a gRPC
status with ErrorInfo. Checks that need the caller (feature gates, quotas) are
interceptors of their own (libs.clients.features), after this one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Mapping, Sequence
from typing import Any, TypeVar

import grpc
from grpc_status import rpc_status

from libs import cache
from libs.auth.caller import Caller, reset_caller, reset_method, set_caller, set_method
from libs.auth.verifier import TokenVerifier
from libs.db.failures import retriable_error
from libs.errors import DomainError, InvalidArgument, Unauthenticated, internal_status, to_status
from libs.metrics.rpc import RPC
from libs.rpc import budget
from libs.rpc.descriptors import MethodRules
from libs.rpc.fields import RequestFields, request_fields, with_json_path
from libs.rpc.internal import internal_caller
from libs.rpc.wrapping import Behavior, UnaryWrapper

log = logging.getLogger("hisaab.rpc")
T = TypeVar("T")

# Infrastructure services (health, reflection) are always open.
_OPEN_PREFIXES = ("/grpc.health.", "/grpc.reflection.")


def bearer_token(metadata: Sequence[tuple[str, str | bytes]] | None) -> str | None:
    for key, value in metadata or ():
        if key.lower() == "authorization":
            text = value.decode() if isinstance(value, bytes) else value
            scheme, _, token = text.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Unauthenticated("authorization must be 'Bearer <token>'")
            return token.strip()
    return None


async def _remembering(work: Awaitable[T]) -> T:
    # In the task that runs the request: what it reads from the cache, it reads once.
    scope = cache.request_scope()
    try:
        return await work
    finally:
        cache.end_read_ahead(scope)


class ServerPipeline(UnaryWrapper):
    def __init__(
        self,
        verifier: TokenVerifier,
        rules: Mapping[str, MethodRules],
        request_timeout: float = 10.0,
        closing: budget.Closing | None = None,
    ):
        super().__init__()
        self._verifier = verifier
        self._rules = rules
        self._request_timeout = request_timeout
        self._closing = closing  # set when requests still running must answer (shutdown)
        # Per method: its request's field rules, for error paths in JSON names here and for
        # libs.rpc.fields.FieldRules, the innermost interceptor, to enforce.
        self.fields = request_fields(rules, {path: rule.has_http for path, rule in rules.items()})

    async def wrap(self, method: str, inner: Behavior, handler: Any) -> Behavior | None:
        if method.startswith(_OPEN_PREFIXES):
            return None
        rules = self._rules.get(method)
        if rules is None:
            # A method the contract does not describe: refuse rather than guess.
            rules = MethodRules(method, False, "", "", "", False)
        return self._wrap(inner, rules, self.fields.get(method))

    def _wrap(self, inner: Behavior, rules: MethodRules, fields: RequestFields | None) -> Behavior:
        async def behavior(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            started = RPC.started(rules.path)
            token = set_caller(None)
            serving = set_method(rules.path)
            code = "OK"
            try:
                caller = await self._authenticate(rules, context)
                set_caller(caller)
                seconds = budget.remaining(self._request_timeout, context.time_remaining())
                return await budget.within(_remembering(inner(request, context)), seconds, self._closing)
            except grpc.aio.AbortError:
                code = "ABORTED_BY_HANDLER"
                raise
            except DomainError as err:
                code = err.code.name
                if isinstance(err, InvalidArgument):
                    err = with_json_path(err, fields)
                await context.abort(
                    err.code, err.message, rpc_status.to_status(to_status(err)).trailing_metadata
                )
            except Exception as err:
                retriable = retriable_error(err)
                if retriable is None:
                    code = "INTERNAL"
                    log.exception("unhandled error in %s", rules.path)
                    status = rpc_status.to_status(internal_status())
                else:  # a dependency failed for now (database down, frozen, restarting)
                    code = retriable.code.name
                    log.warning("retriable failure in %s: %r", rules.path, err)
                    status = rpc_status.to_status(to_status(retriable))
                await context.abort(status.code, status.details, status.trailing_metadata)
            finally:
                reset_caller(token)
                reset_method(serving)
                RPC.finished(rules.path, code, started, context)
                log.info(
                    "rpc",
                    extra={
                        "rpc": rules.path,
                        "code": code,
                        "ms": round((time.perf_counter() - started) * 1e3, 2),
                    },
                )

        return behavior

    async def _authenticate(
        self, rules: MethodRules, context: grpc.aio.ServicerContext[Any, Any]
    ) -> Caller | None:
        token = bearer_token(context.invocation_metadata())  # type: ignore[arg-type]
        if rules.internal:
            return await internal_caller(self._verifier, rules, token, context.invocation_metadata())  # type: ignore[arg-type]
        if token is None:
            if rules.public:
                return None
            raise Unauthenticated("missing bearer token")
        if rules.public:
            # A public method never needs the token; an invalid one is ignored, not an error.
            try:
                return await self._verifier.verify(token)
            except Unauthenticated:
                return None
        return await self._verifier.verify(token)
