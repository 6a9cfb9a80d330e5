"""The six services: one place that names them, their gRPC service, and their default port.

Everything that needs the list (the local stack, the Envoy config, the Helm values
test) reads it from here so a new service is added once.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServiceSpec:
    name: str  # short name: process, chart key, DNS name suffix
    grpc_service: str  # fully qualified proto service
    port: int  # default gRPC port

    @property
    def module(self) -> str:
        return f"services.{self.name}"

    @property
    def addr_env(self) -> str:
        """Environment variable other services read to reach this one."""
        return f"HISAAB_{self.name.upper()}_ADDR"


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("auth", "hisaab.auth.v1.AuthService", 50051),
    ServiceSpec("group", "hisaab.group.v1.GroupService", 50052),
    ServiceSpec("expense", "hisaab.expense.v1.ExpenseService", 50053),
    ServiceSpec("settlement", "hisaab.settlement.v1.SettlementService", 50054),
    ServiceSpec("pricing", "hisaab.pricing.v1.PricingService", 50055),
    ServiceSpec("notification", "hisaab.notification.v1.NotificationService", 50056),
)


@dataclass(frozen=True)
class WorkerSpec:
    """A long-running background process with no gRPC port (queue consumers, the relay)."""

    name: str  # process and chart key
    module: str  # run as ``python -m <module>``
    # Only in ``make run``: in AWS, EventBridge Scheduler does this job.
    local_only: bool = False


WORKERS: tuple[WorkerSpec, ...] = (
    WorkerSpec("outbox-relay", "libs.jobs.outbox_relay"),
    WorkerSpec("notification-worker", "services.notification.worker"),
    WorkerSpec("scan-worker", "services.expense.scan.worker"),
    WorkerSpec("activity-worker", "services.expense.activity.worker"),
    WorkerSpec("group-worker", "services.group.worker"),
    WorkerSpec("scheduler", "libs.jobs.scheduler", local_only=True),
)

GATEWAY_PORT = 8080
GATEWAY_ADMIN_PORT = 9901


def by_name(name: str) -> ServiceSpec:
    for spec in SERVICES:
        if spec.name == name:
            return spec
    raise KeyError(name)
