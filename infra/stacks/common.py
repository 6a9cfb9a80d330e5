"""Small constructors every stack uses the same way."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.config import EnvConfig

# The retention periods CloudWatch accepts that the configurations use.
_RETENTION = {
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    90: logs.RetentionDays.THREE_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
}


def retention(config: EnvConfig) -> logs.RetentionDays:
    return _RETENTION[config.log_retention_days]


def log_group(scope: Construct, cid: str, config: EnvConfig, name: str | None = None) -> logs.LogGroup:
    """A log group with the environment's retention; logs go with their stack."""
    return logs.LogGroup(
        scope, cid, log_group_name=name, retention=retention(config), removal_policy=RemovalPolicy.DESTROY
    )


def rotating_key(
    scope: Construct,
    cid: str,
    description: str,
    *,
    alias: str | None = None,
    removal: RemovalPolicy = RemovalPolicy.DESTROY,
) -> kms.Key:
    """A customer-managed KMS key with yearly automatic rotation."""
    return kms.Key(
        scope, cid, alias=alias, enable_key_rotation=True, removal_policy=removal, description=description
    )
