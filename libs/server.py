"""Service bootstrap on grpc.aio: health, reflection, the pipeline, graceful shutdown.

On SIGTERM the health status turns NOT_SERVING at once, while the server keeps
answering for a short drain window so readiness probes and load balancers see
it and stop sending traffic; then the server stops taking new RPCs and those in
flight get the grace period to finish. Any still running just before it ends
answers UNAVAILABLE (retriable) instead of being cut off.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection, reflection_pb2_grpc

from libs import heap, logs, profiling, telemetry
from libs.auth.jwks import JwksCache
from libs.auth.verifier import TokenVerifier
from libs.loop import run as run_loop
from libs.metrics import export as metrics_export
from libs.rpc import budget
from libs.rpc.descriptors import MethodRules, method_rules
from libs.rpc.fields import FieldRules
from libs.rpc.pipeline import ServerPipeline
from libs.settings import Settings, SettingsError, telemetry_settings

log = logging.getLogger("hisaab.server")

# How long before the shutdown grace ends the requests still running are answered.
ANSWER_BEFORE_GRACE_ENDS_SECONDS = 0.5


# Builds the interceptor that runs after the pipeline (the feature gate of
# libs.clients.features.install) from the service's settings and contract; None if not needed.
GateFactory = Callable[[Settings, Mapping[str, MethodRules]], Any | None]


@dataclass
class ServiceApp:
    """What a service's composition root hands to the bootstrap."""

    settings: Settings
    register: Callable[[grpc.aio.Server], None]
    jwks: JwksCache | None = None
    gate: GateFactory | None = None
    on_stop: Sequence[Callable[[], Awaitable[None]]] = field(default_factory=list)


class _GenericOnly:
    """The server as the generated registration code sees it: each service is served by the
    generic handler that code adds, and its per-method registration is left out.

    For every call it accepts, grpc.aio's accept loop waits on one future per registered
    method (an ``asyncio.wait`` over all of them): with thirty methods that was about 5% of
    a create's CPU. The generic handler finds the same method with one dict lookup."""

    def __init__(self, server: grpc.aio.Server):
        self._server = server

    def add_generic_rpc_handlers(self, handlers: Sequence[grpc.GenericRpcHandler[Any, Any]]) -> None:
        self._server.add_generic_rpc_handlers(handlers)

    def add_registered_method_handlers(self, service: str, handlers: Mapping[str, Any]) -> None:
        """Served by the generic handler the same code adds just before."""


def build_server(app: ServiceApp, closing: budget.Closing | None = None) -> tuple[grpc.aio.Server, Any]:
    settings = app.settings
    jwks = app.jwks
    if jwks is None:
        if not settings.jwks_url:
            raise SettingsError("HISAAB_JWKS_URL is not set")
        jwks = JwksCache.from_url(settings.jwks_url)
    verifier = TokenVerifier(
        jwks,
        issuer=settings.jwt_issuer,
        client_id=settings.jwt_client_id,
        service_clients=settings.service_clients,
    )
    rules = method_rules(settings.service.grpc_service)
    pipeline = ServerPipeline(verifier, rules, settings.request_timeout_seconds, closing)
    interceptors: list[Any] = [*telemetry.server_interceptors(), pipeline]
    # The feature gate goes after the pipeline: it needs the authenticated caller,
    # and its errors are mapped by the pipeline like any domain error.
    gate = app.gate(settings, rules) if app.gate is not None else None
    if gate is not None:
        interceptors.append(gate)
    interceptors.append(FieldRules(pipeline.fields))  # innermost: just before the servicer
    server = grpc.aio.server(
        interceptors=interceptors,
        options=[
            ("grpc.so_reuseport", 0),
            ("grpc.max_receive_message_length", 8 * 1024 * 1024),
            # No bandwidth-delay probe: gRPC would answer data from Envoy with a PING to size
            # its receive window, an extra frame each way and an extra wake-up of the loop
            # per request (9% of a create's CPU). The window matters for large messages over
            # long round trips; here the messages are small and Envoy is in the same cluster.
            ("grpc.http2.bdp_probe", 0),
        ],
    )
    registrar = cast(grpc.aio.Server, _GenericOnly(server))
    app.register(registrar)
    health_servicer = health.aio.HealthServicer()  # type: ignore[attr-defined]
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, registrar)
    reflection_pb2_grpc.add_ServerReflectionServicer_to_server(
        reflection.aio.ReflectionServicer(  # type: ignore[attr-defined]
            (settings.service.grpc_service, health.SERVICE_NAME, reflection.SERVICE_NAME)
        ),
        registrar,
    )
    return server, health_servicer


async def serve(app: ServiceApp) -> None:
    settings = app.settings
    name = settings.service.name
    logs.setup(name, settings.log_level)
    observing = telemetry_settings()
    telemetry.setup(
        name,
        exporter=settings.trace_exporter,
        otlp_endpoint=settings.otlp_endpoint,
        sample_ratio=observing.trace_sample_ratio,
    )
    metrics_export.setup(name, observing)
    closing = budget.Closing()
    server, health_servicer = build_server(app, closing)
    if server.add_insecure_port(f"[::]:{settings.grpc_port}") == 0:
        raise SettingsError(f"cannot listen on port {settings.grpc_port} (HISAAB_GRPC_PORT)")
    await server.start()
    heap.settle()
    for service in ("", settings.service.grpc_service):
        await health_servicer.set(service, health_pb2.HealthCheckResponse.SERVING)
    log.info("listening", extra={"port": settings.grpc_port})

    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    if settings.profile_dir:
        profiling.install(loop, Path(settings.profile_dir), name)
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    await stopping.wait()

    log.info("shutting down", extra={"grace_seconds": settings.shutdown_grace_seconds})
    await health_servicer.enter_graceful_shutdown()
    await asyncio.sleep(settings.shutdown_drain_seconds)
    grace = settings.shutdown_grace_seconds
    stopped = asyncio.ensure_future(server.stop(grace))
    # Requests still running just before the grace ends answer UNAVAILABLE themselves;
    # grpc would cut them off with CANCELLED, which a client cannot tell from its own.
    await asyncio.wait({stopped}, timeout=max(0.0, grace - ANSWER_BEFORE_GRACE_ENDS_SECONDS))
    closing.set()
    await stopped
    for callback in app.on_stop:
        await callback()
    metrics_export.shutdown()
    log.info("stopped")


def run(app_factory: Callable[[], Awaitable[ServiceApp]]) -> None:
    """Entry point for ``python -m services.<name>``."""

    async def main() -> None:
        await serve(await app_factory())

    run_loop(main())
