"""One configuration per environment, and the seed's phase.

Every value has a default here; the operator overrides per deployment from
the environment (``HISAAB_INFRA_*``) or CDK context (``-c phase=2``):

- ``HISAAB_INFRA_ENV``: dev | staging | prod (default dev)
- ``HISAAB_INFRA_PHASE``: 1 MVP, 2 growth (cache, readers), 3 scale (second region, analytics)
- ``HISAAB_INFRA_ACCOUNT``: the AWS account id (defaults to ``CDK_DEFAULT_ACCOUNT``)
- ``HISAAB_INFRA_ADMIN_ROLE_ARNS``: comma-separated IAM roles given cluster-admin access entries
- ``HISAAB_INFRA_ADMIN_CIDRS``: comma-separated networks that may reach the cluster API (else private only)
- ``HISAAB_INFRA_ALARM_EMAIL``: subscribed to the alarm topic when set
- ``HISAAB_INFRA_DOMAIN``, ``HISAAB_INFRA_HOSTED_ZONE_ID``, ``HISAAB_INFRA_HOSTED_ZONE_NAME``: the
  API's hostname in a Route 53 zone (latency records per region in phase 3); none by default
- ``HISAAB_INFRA_EMAIL_DOMAIN``: the SES domain notification email comes from
- ``HISAAB_INFRA_REGION``: the primary region (default ap-south-1)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

ENVIRONMENTS = ("dev", "staging", "prod")
PHASES = (1, 2, 3)
# A syntactically valid account for offline synthesis; deploys pass the real one.
PLACEHOLDER_ACCOUNT = "000000000000"


@dataclass(frozen=True)
class EnvConfig:
    env: str
    phase: int
    account: str
    region: str
    # Mumbai's neighbour: the closest second region for users in India.
    secondary_region: str
    vpc_cidr: str
    secondary_vpc_cidr: str
    az_count: int
    # NAT gateways cost a fixed ~$33/month each in ap-south-1: one in dev (an AZ
    # outage there is acceptable), one per AZ where an AZ outage must not cut egress.
    nat_gateways: int
    aurora_min_acu: float
    aurora_max_acu: float
    node_instance_types: tuple[str, ...]
    node_min: int
    node_max: int
    node_desired: int
    spot: bool
    kubernetes_version: str
    log_retention_days: int
    backup_retention_days: int
    # The domain notification email is sent from (an SES identity), empty for none.
    email_domain: str = ""
    admin_role_arns: tuple[str, ...] = ()
    # Networks allowed to reach the cluster's API from outside the VPC; none keeps it private.
    admin_cidrs: tuple[str, ...] = ()
    alarm_email: str = ""
    domain: str = ""  # the API's hostname, e.g. api.hisaab.app
    hosted_zone_id: str = ""
    hosted_zone_name: str = ""

    @property
    def production(self) -> bool:
        return self.env != "dev"

    @property
    def aurora_readers(self) -> int:
        """Seed: start with one writer; add a reader (two in prod) from the growth phase."""
        if self.phase == 1:
            return 0
        return 2 if self.env == "prod" else 1

    @property
    def cache(self) -> bool:
        """Seed, phase 1: "No Redis initially" (the services run with caches off)."""
        return self.phase >= 2

    @property
    def multi_region(self) -> bool:
        return self.phase >= 3

    @property
    def custom_domain(self) -> bool:
        return bool(self.domain and self.hosted_zone_id and self.hosted_zone_name)

    @property
    def email_sender(self) -> str:
        return f"no-reply@{self.email_domain}" if self.email_domain else ""

    @property
    def name(self) -> str:
        return f"hisaab-{self.env}"


_BASE = {
    "dev": EnvConfig(
        env="dev",
        phase=1,
        account=PLACEHOLDER_ACCOUNT,
        region="ap-south-1",
        secondary_region="ap-south-2",
        vpc_cidr="10.10.0.0/16",
        secondary_vpc_cidr="10.11.0.0/16",
        az_count=2,
        nat_gateways=1,
        # Aurora Serverless v2 pauses at 0 ACU when idle: dev costs storage only overnight.
        aurora_min_acu=0,
        aurora_max_acu=4,
        node_instance_types=("t4g.medium",),
        node_min=1,
        node_max=3,
        node_desired=2,
        spot=True,
        kubernetes_version="1.33",
        log_retention_days=7,
        backup_retention_days=1,
        email_domain="dev.hisaab.app",
    ),
    "staging": EnvConfig(
        env="staging",
        phase=1,
        account=PLACEHOLDER_ACCOUNT,
        region="ap-south-1",
        secondary_region="ap-south-2",
        vpc_cidr="10.20.0.0/16",
        secondary_vpc_cidr="10.21.0.0/16",
        az_count=2,
        nat_gateways=1,
        aurora_min_acu=0.5,
        aurora_max_acu=8,
        node_instance_types=("t4g.large",),
        node_min=2,
        node_max=4,
        node_desired=2,
        spot=True,
        kubernetes_version="1.33",
        log_retention_days=30,
        backup_retention_days=7,
        email_domain="staging.hisaab.app",
    ),
    "prod": EnvConfig(
        env="prod",
        phase=1,
        account=PLACEHOLDER_ACCOUNT,
        region="ap-south-1",
        secondary_region="ap-south-2",
        vpc_cidr="10.30.0.0/16",
        secondary_vpc_cidr="10.31.0.0/16",
        az_count=3,
        nat_gateways=3,
        aurora_min_acu=0.5,
        aurora_max_acu=32,
        node_instance_types=("m7g.large", "m6g.large"),
        node_min=3,
        node_max=12,
        node_desired=3,
        # The money path stays on on-demand capacity in production.
        spot=False,
        kubernetes_version="1.33",
        log_retention_days=90,
        backup_retention_days=14,
        email_domain="hisaab.app",
    ),
}


def _csv(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


def load(env: str | None = None, phase: int | None = None) -> EnvConfig:
    """The configuration of ``env`` (else ``HISAAB_INFRA_ENV``), overridden from the environment."""
    name = env or os.environ.get("HISAAB_INFRA_ENV", "dev")
    if name not in _BASE:
        raise ValueError(f"unknown environment {name!r}; expected one of {', '.join(ENVIRONMENTS)}")
    chosen = phase if phase is not None else int(os.environ.get("HISAAB_INFRA_PHASE", _BASE[name].phase))
    if chosen not in PHASES:
        raise ValueError(f"phase must be 1, 2 or 3, not {chosen}")
    return replace(
        _BASE[name],
        phase=chosen,
        account=os.environ.get("HISAAB_INFRA_ACCOUNT", os.environ.get("CDK_DEFAULT_ACCOUNT", ""))
        or PLACEHOLDER_ACCOUNT,
        region=os.environ.get("HISAAB_INFRA_REGION", _BASE[name].region),
        admin_role_arns=_csv(os.environ.get("HISAAB_INFRA_ADMIN_ROLE_ARNS", "")),
        admin_cidrs=_csv(os.environ.get("HISAAB_INFRA_ADMIN_CIDRS", "")),
        alarm_email=os.environ.get("HISAAB_INFRA_ALARM_EMAIL", ""),
        domain=os.environ.get("HISAAB_INFRA_DOMAIN", ""),
        email_domain=os.environ.get("HISAAB_INFRA_EMAIL_DOMAIN", _BASE[name].email_domain),
        hosted_zone_id=os.environ.get("HISAAB_INFRA_HOSTED_ZONE_ID", ""),
        hosted_zone_name=os.environ.get("HISAAB_INFRA_HOSTED_ZONE_NAME", ""),
    )
