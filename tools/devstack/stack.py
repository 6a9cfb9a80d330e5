"""The whole local stack, started in dependency order and stopped in reverse.

infra (PostgreSQL, Valkey, AWS emulator with the resources of ``libs.aws.bootstrap``)
-> migrations -> every service on its own port -> Envoy (REST on
``rest_url``) -> the background workers of ``catalog.WORKERS``. Used by
``make run`` and by the test suite's session fixture.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from libs import aws as aws_resources
from libs import catalog, limits
from tools.devstack.aws import RunningAws, start_aws_emulator
from tools.devstack.envoy import start_envoy
from tools.devstack.ports import free_port, port_is_free
from tools.devstack.postgres import (
    RunningPostgres,
    create_database,
    drop_database,
    start_postgres,
)
from tools.devstack.processes import (
    ManagedProcess,
    ProcessFailed,
    Supervisor,
    wait_until_file,
    wait_until_serving,
)
from tools.devstack.rates import RatesSource
from tools.devstack.valkey import RunningValkey, start_valkey

REPO_ROOT = Path(__file__).resolve().parents[2]
DESCRIPTOR = REPO_ROOT / "gen" / "hisaab.pb"
GATEWAY = "gateway"
GATEWAY_ADMIN = "gateway_admin"
LOCALHOST = "127.0.0.1"


class PortInUseError(RuntimeError):
    pass


# Where settlement-service fetches reference exchange rates (the stack serves sample ones).
RATES_URL = "HISAAB_EXCHANGE_RATES_URL"


def default_data_dir() -> Path:
    return Path(os.environ.get("HISAAB_DATA_DIR") or REPO_ROOT / ".data").resolve()


def port_variable(key: str) -> str:
    """The environment variable that moves ``key`` (gateway, gateway_admin or a service name)."""
    return f"HISAAB_{key.upper()}_PORT"


def free_ports(services: Sequence[catalog.ServiceSpec] | None = None) -> dict[str, int]:
    """A ``ports`` mapping of fresh free ports, for tests that run beside ``make run``."""
    names = [s.name for s in (services if services is not None else catalog.SERVICES)]
    return {key: free_port() for key in [GATEWAY, GATEWAY_ADMIN, *names]}


@dataclass(frozen=True)
class PortPlan:
    gateway: int
    gateway_admin: int
    services: dict[str, int]

    @classmethod
    def resolve(
        cls, services: Sequence[catalog.ServiceSpec], overrides: Mapping[str, int] | None
    ) -> PortPlan:
        """Explicit ``overrides`` win, then HISAAB_<KEY>_PORT, then the catalog defaults."""
        given = dict(overrides or {})

        def pick(key: str, default: int) -> int:
            if key in given:
                return given[key]
            return int(os.environ.get(port_variable(key), default))

        return cls(
            gateway=pick(GATEWAY, catalog.GATEWAY_PORT),
            gateway_admin=pick(GATEWAY_ADMIN, catalog.GATEWAY_ADMIN_PORT),
            services={s.name: pick(s.name, s.port) for s in services},
        )

    def items(self) -> list[tuple[str, int]]:
        return [(GATEWAY, self.gateway), (GATEWAY_ADMIN, self.gateway_admin), *self.services.items()]

    def check_free(self) -> None:
        busy = [(key, port) for key, port in self.items() if not port_is_free(port)]
        if busy:
            lines = [f"  port {port} ({key}): set {port_variable(key)} to a free port" for key, port in busy]
            raise PortInUseError(
                "ports already in use (is another `make run` still up?):\n" + "\n".join(lines)
            )


class Stack:
    """Context manager: ``with Stack() as stack: ... stack.rest_url ...``."""

    def __init__(
        self,
        data_dir: Path | None = None,
        *,
        ports: Mapping[str, int] | None = None,
        database: str | None = None,
        echo: bool = False,
        env: Mapping[str, str] | None = None,
        services: Sequence[catalog.ServiceSpec] | None = None,
        workers: Sequence[catalog.WorkerSpec] | None = None,
        # A process that dies is reported at once; this only bounds one that is alive but
        # slow, as on a first start (no bytecode cache) on a busy or slow-disk machine.
        startup_timeout: float = 180.0,
        background_nice: int = 0,
        processes: Mapping[str, int] | None = None,
        trace_daemon: tuple[str, int] | None = None,
    ) -> None:
        """
        ports: gateway, gateway_admin and service names to ports (see free_ports()).
        background_nice: CPU priority (nice) of the workers and the AWS emulator. The
            benchmarks lower it so that, as in AWS, background work does not take CPU from
            the request path being measured; everywhere else it is the services' own.
        database: if given, this database is created fresh on the server and dropped at stop,
            instead of using ``hisaab`` (tests get a clean database per run).
        env: extra environment for migrations and services (e.g. HISAAB_ENV=test).
        processes: how many processes to run of a service (default one). Each is an
            asyncio server on one thread; like the chart's replicas, the extra ones take
            other ports and Envoy spreads REST requests over all of them. Calls between
            services go to the first.
        """
        self.data_dir = (data_dir or default_data_dir()).resolve()
        self.services = tuple(services if services is not None else catalog.SERVICES)
        self.workers = tuple(workers if workers is not None else catalog.WORKERS)
        self.ports = PortPlan.resolve(self.services, ports)
        self.fresh_database = database
        self.echo = echo
        self.extra_env = dict(env or {})
        self.startup_timeout = startup_timeout
        self.background_nice = background_nice
        self.processes = dict(processes or {})
        unknown = set(self.processes) - {s.name for s in self.services}
        if unknown or any(n < 1 for n in self.processes.values()):
            raise ValueError(f"processes: unknown services {sorted(unknown)} or a count below 1")
        self.extra_ports: dict[str, list[int]] = {}
        self.trace_daemon = trace_daemon
        # Process name -> the port of its Prometheus endpoint (HISAAB_METRICS_PORT).
        self.metrics_ports: dict[str, int] = {}
        self.supervisor = Supervisor(self.data_dir / "logs", echo=echo, grace=self._grace() + 5)
        self._exit = contextlib.ExitStack()
        self.postgres: RunningPostgres | None = None
        self.valkey: RunningValkey | None = None
        self.aws: RunningAws | None = None
        self.resources = aws_resources.Resources()
        self.envoy: ManagedProcess | None = None
        self.database_url = ""
        self.service_env: dict[str, str] = {}
        self.rates_source: RatesSource | None = None

    @property
    def rest_url(self) -> str:
        return f"http://{LOCALHOST}:{self.ports.gateway}"

    @property
    def admin_url(self) -> str:
        return f"http://{LOCALHOST}:{self.ports.gateway_admin}"

    @property
    def otp_log(self) -> Path:
        return self.data_dir / "dev-otp.jsonl"

    def address(self, service: str) -> str:
        return f"{LOCALHOST}:{self.ports.services[service]}"

    def metrics_url(self, process: str) -> str:
        """``http://…/metrics`` of a process (a service, ``expense-2``, or a worker)."""
        return f"http://{LOCALHOST}:{self.metrics_ports[process]}/metrics"

    def _metrics_env(self, process: str) -> dict[str, str]:
        self.metrics_ports[process] = free_port()
        return {"HISAAB_METRICS_PORT": str(self.metrics_ports[process]), "HISAAB_METRICS_ADDRESS": LOCALHOST}

    def service_ports(self, service: str) -> list[int]:
        """The ports of every process of ``service``, the one other services call first."""
        return [self.ports.services[service], *self.extra_ports.get(service, [])]

    def _grace(self) -> float:
        return float(self.extra_env.get("HISAAB_SHUTDOWN_GRACE_SECONDS", "5"))

    def __enter__(self) -> Stack:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        self.ports.check_free()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._start_infra()
            self._migrate()
            self._start_services()
            self._start_gateway()
            self._start_workers()
            self._refresh_exchange_rates()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        self._exit.close()

    def dead_processes(self) -> list[ManagedProcess]:
        """Children that exited on their own (``make run`` watches this)."""
        return self.supervisor.dead()

    def _start_infra(self) -> None:
        self.postgres = start_postgres(self.data_dir)
        self._exit.callback(self.postgres.stop)
        self.database_url = self.postgres.url
        if self.fresh_database:
            drop_database(self.postgres.admin_url, self.fresh_database)
            self.database_url = create_database(self.postgres.admin_url, self.fresh_database)
            self._exit.callback(drop_database, self.postgres.admin_url, self.fresh_database)
        self.valkey = start_valkey(self.data_dir)
        self._exit.callback(self.valkey.stop)
        self.aws = start_aws_emulator(
            self.data_dir, nice=self.background_nice, timeout=max(60.0, self.startup_timeout)
        )
        self._exit.callback(self.aws.stop)
        self.resources = aws_resources.bootstrap(
            endpoint=self.aws.endpoint_url, region_name=self.aws.env["AWS_REGION"], credentials=self.aws.env
        )
        if not (os.environ.get(RATES_URL) or self.extra_env.get(RATES_URL)):
            self.rates_source = RatesSource(free_port())
            self._exit.callback(self.rates_source.stop)
        self.service_env = self._service_env()

    def _refresh_exchange_rates(self) -> None:
        """Queues the daily rates job once, so conversion works from the start (the schedule
        itself fires once a day)."""
        from datetime import UTC, datetime

        from libs.jobs.messages import JobMessage

        assert self.aws is not None
        sqs = aws_resources.make_client(
            "sqs",
            endpoint=self.aws.endpoint_url,
            region_name=self.aws.env["AWS_REGION"],
            credentials=self.aws.env,
        )
        minute = datetime.now(UTC).replace(second=0, microsecond=0)
        sqs.send_message(
            QueueUrl=self.resources.jobs_queue_url,
            MessageBody=JobMessage("refresh_exchange_rates", minute).body(),
        )

    def _service_env(self) -> dict[str, str]:
        assert self.valkey is not None
        assert self.aws is not None
        reader = os.environ.get("DATABASE_READER_URL") if "DATABASE_URL" in os.environ else None
        env = dict(os.environ)
        env.update(self.aws.env)
        env.update(self.resources.env())
        env.update(
            {
                "DATABASE_URL": self.database_url,
                "DATABASE_READER_URL": reader or self.database_url,
                "REDIS_URL": self.valkey.url,
                "HISAAB_ENV": "dev",
                "HISAAB_AUTH_PROVIDER": "local",
                "HISAAB_DATA_DIR": str(self.data_dir),
                "HISAAB_JWKS_URL": f"{self.rest_url}/v1/auth/jwks",
                "HISAAB_SHUTDOWN_GRACE_SECONDS": str(self._grace()),
                "HISAAB_LOG_LEVEL": os.environ.get("HISAAB_LOG_LEVEL", "INFO"),
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update({s.addr_env: self.address(s.name) for s in self.services})
        if self.rates_source is not None:
            env[RATES_URL] = self.rates_source.url
        env.update(self.extra_env)
        return env

    def _migrate(self) -> None:
        log_path = self.data_dir / "logs" / "migrate.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "wb") as log:
            result = subprocess.run(
                [sys.executable, "-m", "libs.db.migrate"],
                env=self.service_env,
                cwd=REPO_ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=self.startup_timeout * 3,
                check=False,
            )
        if result.returncode != 0:
            tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-30:])
            raise ProcessFailed(
                f"migrations failed (exit {result.returncode}); last lines of {log_path}:\n{tail}"
            )

    def _start_services(self) -> None:
        self._exit.callback(self.supervisor.stop_all)
        self.extra_ports = {
            name: [free_port() for _ in range(count - 1)] for name, count in self.processes.items()
        }
        started = []
        for spec in self.services:  # start all first: they boot in parallel
            for i, port in enumerate(self.service_ports(spec.name)):
                name = spec.name if i == 0 else f"{spec.name}-{i + 1}"
                env = {**self.service_env, "HISAAB_GRPC_PORT": str(port), **self._metrics_env(name)}
                proc = self.supervisor.start_python_module(name, spec.module, env, cwd=REPO_ROOT)
                started.append((spec, proc, port))
        for spec, proc, port in started:
            wait_until_serving(proc, f"{LOCALHOST}:{port}", spec.grpc_service, timeout=self.startup_timeout)

    def heartbeat_file(self, worker: str) -> Path:
        return self.data_dir / "run" / f"{worker}.alive"

    def _start_workers(self) -> None:
        started = []
        for spec in self.workers:
            path = self.heartbeat_file(spec.name)
            path.unlink(missing_ok=True)  # a stale file from a killed run must not count as ready
            env = {**self.service_env, "HISAAB_HEARTBEAT_FILE": str(path), **self._metrics_env(spec.name)}
            proc = self.supervisor.start_python_module(
                spec.name, spec.module, env, cwd=REPO_ROOT, nice=self.background_nice
            )
            started.append((proc, path))
        for proc, path in started:
            wait_until_file(proc, path, timeout=self.startup_timeout)

    def _start_gateway(self) -> None:
        from tools.gateway.envoy_config import build_config, tracing  # written alongside the services

        if not DESCRIPTOR.exists():
            raise FileNotFoundError(f"{DESCRIPTOR} is missing: run `make gen` first")
        config = build_config(
            {s.name: [(LOCALHOST, port) for port in self.service_ports(s.name)] for s in self.services},
            str(DESCRIPTOR),
            self.ports.gateway,
            self.ports.gateway_admin,
            trace_to=tracing(self.trace_daemon, 1.0) if self.trace_daemon else None,
            sign_in_limits=limits.load(lambda name: self.service_env.get(name, "").strip()),
        )
        config_path = self.data_dir / "envoy.json"
        config_path.write_text(json.dumps(config, indent=2))
        envoy = start_envoy(
            config_path,
            self.ports.gateway_admin,
            self.data_dir / "logs" / "envoy.log",
            echo=self.echo,
            timeout=self.startup_timeout,
            # Envoy's info level is a page of startup lines; warnings are what matter locally.
            log_level=os.environ.get("HISAAB_ENVOY_LOG_LEVEL", "warning"),
        )
        self.envoy = envoy
        self._exit.callback(envoy.stop, 5.0)


__all__ = ["PortInUseError", "PortPlan", "Stack", "default_data_dir", "free_ports", "port_variable"]
