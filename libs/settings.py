"""Settings from the environment. Unset values fall back to the local defaults.

The only module that reads the environment (``libs/tests/test_config_fence.py``): the
rest of the code asks ``load`` for a service's settings, or ``env_var`` / ``env_float``
for a value of its own (a worker's poll interval, a provider's keys)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from libs.catalog import GATEWAY_PORT, ServiceSpec, by_name

ROOT = Path(__file__).resolve().parent.parent
LOCAL_ISSUER = "https://auth.hisaab.local"
LOCAL_CLIENT_ID = "hisaab-app-local"
PRODUCTION_ENVS = frozenset({"staging", "prod"})


class SettingsError(ValueError):
    """The configuration is unusable; the process must not start."""


# Signs page tokens where no key is configured (dev and test only): every process of a
# service must share the key, since a page may be asked of another replica.
_DEV_PAGE_TOKEN_KEY = b"hisaab-development-page-tokens-not-secret"


BUSINESS_TIME_ZONE_VARIABLE = "HISAAB_BUSINESS_TIME_ZONE"
DEFAULT_BUSINESS_TIME_ZONE = "Asia/Kolkata"


def business_time_zone() -> str:
    """The IANA zone where business days begin and end (libs.clock checks it exists)."""
    return env_var(BUSINESS_TIME_ZONE_VARIABLE) or DEFAULT_BUSINESS_TIME_ZONE


def page_token_key() -> bytes:
    """HISAAB_PAGE_TOKEN_KEY (at least 32 characters, a secret in staging and prod)."""
    key = env_var("HISAAB_PAGE_TOKEN_KEY")
    if key:
        if len(key) < 32:
            raise SettingsError("HISAAB_PAGE_TOKEN_KEY must be at least 32 characters")
        return key.encode()
    if env_var("HISAAB_ENV", "dev") in PRODUCTION_ENVS:
        raise SettingsError("HISAAB_PAGE_TOKEN_KEY is required with HISAAB_ENV=staging|prod")
    return _DEV_PAGE_TOKEN_KEY


# The ECB's daily euro reference rates (about thirty currencies, INR among them).
DEFAULT_EXCHANGE_RATES_URL = "https://www.ecb.europa.eu/stats/eurofxref/eurofxref-daily.xml"


def exchange_rates_url() -> str:
    """HISAAB_EXCHANGE_RATES_URL: where settlement-service fetches the daily reference rates."""
    url = env_var("HISAAB_EXCHANGE_RATES_URL", DEFAULT_EXCHANGE_RATES_URL)
    if not url.startswith(("https://", "http://")):
        raise SettingsError("HISAAB_EXCHANGE_RATES_URL must be an http(s) URL")
    return url


def env_var(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_float(name: str, default: float) -> float:
    return float(env_var(name) or default)


@dataclass(frozen=True)
class TelemetrySettings:
    """Traces and metrics of any process, a service or a worker (docs/observability.md)."""

    otlp_endpoint: str  # OTEL_EXPORTER_OTLP_ENDPOINT: the collector, OTLP/gRPC
    trace_exporter: str  # HISAAB_TRACE_EXPORTER: otlp, console or none
    # HISAAB_TRACE_SAMPLE_RATIO: the share of new traces kept; a continued trace follows its
    # parent's decision (parent-based), so one request is sampled whole or not at all.
    trace_sample_ratio: float
    metrics_exporter: str  # OTEL_METRICS_EXPORTER: otlp or none
    metrics_interval_seconds: int  # HISAAB_METRICS_EXPORT_SECONDS
    metrics_port: int  # HISAAB_METRICS_PORT: the Prometheus endpoint; 0 = none
    metrics_address: str  # HISAAB_METRICS_ADDRESS


def telemetry_settings() -> TelemetrySettings:
    endpoint = env_var("OTEL_EXPORTER_OTLP_ENDPOINT")
    ratio = float(env_var("HISAAB_TRACE_SAMPLE_RATIO") or "1")
    if not 0.0 <= ratio <= 1.0:
        raise SettingsError("HISAAB_TRACE_SAMPLE_RATIO must be between 0 and 1")
    return TelemetrySettings(
        otlp_endpoint=endpoint,
        trace_exporter=env_var("HISAAB_TRACE_EXPORTER", "otlp" if endpoint else "none"),
        trace_sample_ratio=ratio,
        metrics_exporter=env_var("OTEL_METRICS_EXPORTER", "otlp" if endpoint else "none"),
        metrics_interval_seconds=max(1, int(env_var("HISAAB_METRICS_EXPORT_SECONDS", "60"))),
        metrics_port=int(env_var("HISAAB_METRICS_PORT", "0")),
        metrics_address=env_var("HISAAB_METRICS_ADDRESS", "0.0.0.0"),  # noqa: S104 - scraped from outside the pod
    )


@dataclass(frozen=True)
class Settings:
    service: ServiceSpec
    env: str
    grpc_port: int
    database_url: str
    database_reader_url: str
    redis_url: str
    aws_region: str
    aws_endpoint_url: str
    data_dir: Path
    jwks_url: str
    jwt_issuer: str
    jwt_client_id: str
    # Client id -> short service name: the clients whose internal-scope tokens are service identities.
    service_clients: dict[str, str]
    auth_provider: str
    cognito_user_pool_id: str
    cognito_client_id: str
    otlp_endpoint: str
    trace_exporter: str
    log_level: str
    shutdown_grace_seconds: float
    shutdown_drain_seconds: float
    peer_timeout_seconds: float
    # Below the gateway's upstream timeout, so the service answers (with a retriable
    # DEADLINE_EXCEEDED) before Envoy gives up on it.
    request_timeout_seconds: float = 10.0
    peers: dict[str, str] = field(default_factory=dict)
    # Development only: where SIGUSR2 writes a CPU profile of the process (libs.profiling).
    profile_dir: str = ""

    def peer(self, name: str) -> str:
        return self.peers[name]


def local_service_client_id(service: str) -> str:
    """The fixed client id of a service's own identity with the local issuer."""
    return f"hisaab-service-{service}"


def _service_clients(provider: str) -> dict[str, str]:
    """HISAAB_SERVICE_CLIENT_IDS: ``<service>=<client id>`` pairs, comma-separated (one
    Cognito app client per service). Locally each service's client id is fixed."""
    from libs.catalog import SERVICES

    raw = env_var("HISAAB_SERVICE_CLIENT_IDS")
    if not raw and provider == "local":
        return {local_service_client_id(s.name): s.name for s in SERVICES}
    clients: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in raw.split(","))):
        service, sep, client = (part.strip() for part in pair.partition("="))
        if not sep or not service or not client:
            raise SettingsError(f"HISAAB_SERVICE_CLIENT_IDS entries are <service>=<client id>, not {pair!r}")
        clients[client] = service
    return clients


def load(service_name: str) -> Settings:
    from libs.catalog import SERVICES

    spec = by_name(service_name)
    env = env_var("HISAAB_ENV", "dev")
    page_token_key()  # fail at start-up, not on the first list request
    provider = env_var("HISAAB_AUTH_PROVIDER", "local")
    region = env_var("AWS_REGION", env_var("AWS_DEFAULT_REGION", "ap-south-1"))
    pool = env_var("HISAAB_COGNITO_USER_POOL_ID")
    if provider == "cognito":
        if not pool:
            raise SettingsError("HISAAB_COGNITO_USER_POOL_ID is required with HISAAB_AUTH_PROVIDER=cognito")
        issuer = f"https://cognito-idp.{region}.amazonaws.com/{pool}"
        default_jwks = f"{issuer}/.well-known/jwks.json"
        client_id = env_var("HISAAB_COGNITO_CLIENT_ID")
    elif provider == "local":
        if env in PRODUCTION_ENVS:
            raise SettingsError(f"HISAAB_AUTH_PROVIDER=local cannot run with HISAAB_ENV={env}")
        issuer = LOCAL_ISSUER
        # Tokens are verified with the keys the auth service publishes through the gateway.
        default_jwks = f"http://127.0.0.1:{GATEWAY_PORT}/v1/auth/jwks"
        client_id = LOCAL_CLIENT_ID
    else:
        raise SettingsError(f"HISAAB_AUTH_PROVIDER must be local or cognito, not {provider!r}")
    jwks_url = env_var("HISAAB_JWKS_URL", default_jwks)
    peers = {s.name: env_var(s.addr_env, f"127.0.0.1:{s.port}") for s in SERVICES}
    return Settings(
        service=spec,
        env=env,
        grpc_port=int(env_var("HISAAB_GRPC_PORT", str(spec.port))),
        database_url=env_var("DATABASE_URL"),
        database_reader_url=env_var("DATABASE_READER_URL"),
        redis_url=env_var("REDIS_URL"),
        aws_region=region,
        aws_endpoint_url=env_var("AWS_ENDPOINT_URL"),
        data_dir=Path(env_var("HISAAB_DATA_DIR", str(ROOT / ".data"))),
        jwks_url=jwks_url,
        jwt_issuer=issuer,
        jwt_client_id=client_id,
        service_clients=_service_clients(provider),
        auth_provider=provider,
        cognito_user_pool_id=pool,
        cognito_client_id=env_var("HISAAB_COGNITO_CLIENT_ID"),
        otlp_endpoint=env_var("OTEL_EXPORTER_OTLP_ENDPOINT"),
        trace_exporter=env_var(
            "HISAAB_TRACE_EXPORTER", "otlp" if env_var("OTEL_EXPORTER_OTLP_ENDPOINT") else "none"
        ),
        log_level=env_var("HISAAB_LOG_LEVEL", "INFO").upper(),
        shutdown_grace_seconds=float(env_var("HISAAB_SHUTDOWN_GRACE_SECONDS", "20")),
        shutdown_drain_seconds=float(env_var("HISAAB_SHUTDOWN_DRAIN_SECONDS", "3")),
        peer_timeout_seconds=float(env_var("HISAAB_PEER_TIMEOUT_SECONDS", "3")),
        request_timeout_seconds=float(env_var("HISAAB_REQUEST_TIMEOUT_SECONDS", "10")),
        peers=peers,
        profile_dir=env_var("HISAAB_PROFILE_DIR"),
    )
