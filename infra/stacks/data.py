"""Stateful stores: Aurora, the cache (phase >= 2), S3 buckets and the app's secrets.

Kept apart from compute so a cluster can be replaced without touching data;
in production every store is retained or snapshotted when its stack goes.
"""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration, RemovalPolicy, SecretValue, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticache as elasticache
from aws_cdk import aws_rds as rds
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.config import EnvConfig
from infra.stacks.common import log_group, rotating_key
from infra.stacks.nag import suppress
from infra.stacks.network import NetworkStack

DATABASE_NAME = "hisaab"
DATABASE_USER = "hisaab"
CACHE_PORT = 6379
# Secrets the services read besides the database and cache credentials; the
# operator puts their values in after the first deploy (docs/deploy.md).
APP_SECRETS = ("payment-provider", "push-credentials")
DATA_KEY_ALIAS = "{name}/data"
# Exports are links in a notification: a week is plenty.
EXPORT_DAYS = 7


class DataStack(Stack):
    def __init__(
        self, scope: Construct, cid: str, *, config: EnvConfig, network: NetworkStack, **kwargs: object
    ) -> None:
        super().__init__(scope, cid, **kwargs)  # type: ignore[arg-type]
        self.config = config
        keep = RemovalPolicy.RETAIN if config.production else RemovalPolicy.DESTROY
        self.key = rotating_key(
            self,
            "DataKey",
            "Aurora storage, cache at rest, secrets",
            alias=DATA_KEY_ALIAS.format(name=config.name),
            removal=keep,
        )
        vpc = network.vpc
        self.database_sg = ec2.SecurityGroup(
            self, "DatabaseSg", vpc=vpc, description="Aurora: PostgreSQL from the VPC only"
        )
        self.database_sg.add_ingress_rule(ec2.Peer.ipv4(vpc.vpc_cidr_block), ec2.Port.tcp(5432), "pods")
        self.database = self._aurora(network, keep)
        self.cache: elasticache.CfnReplicationGroup | None = None
        self.cache_secret: secretsmanager.Secret | None = None
        if config.cache:
            self.cache, self.cache_secret = self._valkey(network)
        self.access_logs = self._bucket("AccessLogs", keep, access_logs=False)
        self.receipts = self._bucket("Receipts", keep, cors=True)
        self.exports = self._bucket("Exports", keep, expire_days=EXPORT_DAYS)
        self.analytics = self._bucket("Analytics", keep, archive_days=90)
        self.app_secrets = {
            name: secretsmanager.Secret(
                self,
                f"Secret-{name}",
                secret_name=f"{config.name}/{name}",
                encryption_key=self.key,
                description=f"{name} credentials; value set by the operator",
                removal_policy=keep,
            )
            for name in APP_SECRETS
        }
        # The key that signs page tokens (libs/pagination.py): generated here, shared by
        # every replica through the chart's env secrets.
        self.page_token_secret = secretsmanager.Secret(
            self,
            "Secret-page-tokens",
            secret_name=f"{config.name}/page-tokens",
            encryption_key=self.key,
            description="HISAAB_PAGE_TOKEN_KEY, the page-token signing key",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template="{}",
                generate_string_key="HISAAB_PAGE_TOKEN_KEY",
                exclude_punctuation=True,
                password_length=48,
            ),
            removal_policy=keep,
        )
        suppress(
            self.page_token_secret,
            {
                "AwsSolutions-SMG4": "Rotating the key only ends the page tokens in flight (apps start "
                "again from the first page); it is replaced by a redeploy, no Lambda needed."
            },
        )
        outputs = {
            "PageTokenSecretName": self.page_token_secret.secret_name,
            "DatabaseSecretName": self.database.secret.secret_name,  # type: ignore[union-attr]
            "DatabaseWriterHost": self.database.cluster_endpoint.hostname,
            "DatabaseReaderHost": self.database.cluster_read_endpoint.hostname,
            "ReceiptsBucket": self.receipts.bucket_name,
            "ExportsBucket": self.exports.bucket_name,
            "AnalyticsBucket": self.analytics.bucket_name,
            "PaymentSecretName": self.app_secrets["payment-provider"].secret_name,
        }
        if self.cache is not None and self.cache_secret is not None:
            outputs["CacheSecretName"] = self.cache_secret.secret_name
            outputs["CacheHost"] = self.cache.attr_primary_end_point_address
        for name, value in outputs.items():
            CfnOutput(self, name, value=value)
        for secret in self.app_secrets.values():
            suppress(
                secret,
                {
                    "AwsSolutions-SMG4": "Third-party credentials (payment provider, FCM/APNs) "
                    "are rotated at the provider and pasted in; no Lambda can rotate them."
                },
            )

    def _aurora(self, network: NetworkStack, keep: RemovalPolicy) -> rds.DatabaseCluster:
        config = self.config
        params = rds.ParameterGroup(
            self,
            "DatabaseParams",
            engine=_ENGINE,
            parameters={"rds.force_ssl": "1", "log_min_duration_statement": "1000"},
        )
        identifier = f"{config.name}-aurora"
        # Created here (not by RDS on first write) so it has a retention without a log-retention Lambda.
        database_logs = log_group(self, "DatabaseLogs", config, f"/aws/rds/cluster/{identifier}/postgresql")
        cluster = rds.DatabaseCluster(
            self,
            "Database",
            cluster_identifier=identifier,
            engine=_ENGINE,
            parameter_group=params,
            writer=rds.ClusterInstance.serverless_v2("writer", enable_performance_insights=True),
            readers=[
                rds.ClusterInstance.serverless_v2(
                    f"reader{i + 1}", scale_with_writer=i == 0, enable_performance_insights=True
                )
                for i in range(config.aurora_readers)
            ],
            serverless_v2_min_capacity=config.aurora_min_acu,
            serverless_v2_max_capacity=config.aurora_max_acu,
            vpc=network.vpc,
            vpc_subnets=network.data_subnets,
            security_groups=[self.database_sg],
            default_database_name=DATABASE_NAME,
            credentials=rds.Credentials.from_generated_secret(
                DATABASE_USER, secret_name=f"{config.name}/database", encryption_key=self.key
            ),
            storage_encrypted=True,
            storage_encryption_key=self.key,
            iam_authentication=True,
            backup=rds.BackupProps(
                retention=Duration.days(config.backup_retention_days), preferred_window="21:00-22:00"
            ),
            preferred_maintenance_window="Sun:22:30-Sun:23:30",
            deletion_protection=config.production,
            removal_policy=RemovalPolicy.SNAPSHOT if config.production else RemovalPolicy.DESTROY,
            cloudwatch_logs_exports=["postgresql"],
            copy_tags_to_snapshot=True,
        )
        cluster.node.add_dependency(database_logs)
        if not config.production:
            suppress(
                cluster, {"AwsSolutions-RDS10": "dev is torn down freely; staging and prod are protected."}
            )
        if config.multi_region:
            # Phase 3: the writer's cluster becomes the primary of a global database.
            rds.CfnGlobalCluster(
                self,
                "Global",
                global_cluster_identifier=f"{config.name}-global",
                source_db_cluster_identifier=cluster.cluster_identifier,
                deletion_protection=config.production,
            )
        cluster.add_rotation_single_user(
            automatically_after=Duration.days(30), vpc_subnets=network.app_subnets
        )
        return cluster

    def _valkey(self, network: NetworkStack) -> tuple[elasticache.CfnReplicationGroup, secretsmanager.Secret]:
        config = self.config
        secret = secretsmanager.Secret(
            self,
            "CacheAuth",
            secret_name=f"{config.name}/cache",
            encryption_key=self.key,
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=64, exclude_punctuation=True
            ),
        )
        suppress(
            secret,
            {
                "AwsSolutions-SMG4": "The cache auth token changes with a ModifyReplicationGroup "
                "(ROTATE strategy), which docs/deploy.md schedules; no rotation Lambda exists for it."
            },
        )
        sg = ec2.SecurityGroup(self, "CacheSg", vpc=network.vpc, description="Valkey: TLS from the VPC only")
        sg.add_ingress_rule(ec2.Peer.ipv4(network.vpc.vpc_cidr_block), ec2.Port.tcp(CACHE_PORT), "pods")
        subnets = elasticache.CfnSubnetGroup(
            self,
            "CacheSubnets",
            description="data subnets",
            subnet_ids=network.vpc.select_subnets(subnet_group_name="data").subnet_ids,
        )
        group = elasticache.CfnReplicationGroup(
            self,
            "Cache",
            replication_group_description=f"{config.name} cache (accelerator only)",
            engine="valkey",
            engine_version="8.0",
            cache_node_type="cache.r7g.large" if config.env == "prod" else "cache.t4g.small",
            num_node_groups=1,
            replicas_per_node_group=1,
            automatic_failover_enabled=True,
            multi_az_enabled=True,
            port=CACHE_PORT,
            transit_encryption_enabled=True,
            transit_encryption_mode="required",
            at_rest_encryption_enabled=True,
            kms_key_id=self.key.key_id,
            auth_token=SecretValue.secrets_manager(secret.secret_name).unsafe_unwrap(),
            cache_subnet_group_name=subnets.ref,
            security_group_ids=[sg.security_group_id],
            snapshot_retention_limit=1,
            auto_minor_version_upgrade=True,
        )
        return group, secret

    def _bucket(
        self,
        name: str,
        keep: RemovalPolicy,
        *,
        access_logs: bool = True,
        cors: bool = False,
        expire_days: int = 0,
        archive_days: int = 0,
    ) -> s3.Bucket:
        rules = [
            s3.LifecycleRule(id="abort-incomplete", abort_incomplete_multipart_upload_after=Duration.days(1))
        ]
        if expire_days:
            rules.append(s3.LifecycleRule(id="expire", expiration=Duration.days(expire_days)))
        if archive_days:
            rules.append(
                s3.LifecycleRule(
                    id="archive",
                    transitions=[
                        s3.Transition(
                            storage_class=s3.StorageClass.GLACIER_INSTANT_RETRIEVAL,
                            transition_after=Duration.days(archive_days),
                        )
                    ],
                )
            )
        bucket = s3.Bucket(
            self,
            name,
            bucket_name=bucket_name(self.config, self.account, name.lower()),
            # SSE-S3, not KMS: pre-signed POST and GET would otherwise need every
            # uploader's KMS grants; the objects are the users' own receipts.
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=name != "Exports" and self.config.production,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=rules,
            server_access_logs_bucket=self.access_logs if access_logs else None,
            server_access_logs_prefix=f"{name.lower()}/" if access_logs else None,
            removal_policy=keep,
            auto_delete_objects=False,
            cors=[
                s3.CorsRule(
                    # The app's pre-signed POST (and a later web client's GET) from its own origins.
                    allowed_methods=[s3.HttpMethods.POST, s3.HttpMethods.GET],
                    allowed_origins=[f"https://{self.config.domain or 'hisaab.app'}"],
                    allowed_headers=["*"],
                    max_age=3000,
                )
            ]
            if cors
            else None,
        )
        if not access_logs:
            suppress(bucket, {"AwsSolutions-S1": "This is the access-log bucket itself."})
        return bucket


ENGINE_VERSION = "17.5"
_ENGINE = rds.DatabaseClusterEngine.aurora_postgres(version=rds.AuroraPostgresEngineVersion.VER_17_5)


def bucket_name(config: EnvConfig, account: str, kind: str) -> str:
    """Bucket names are global: the account keeps them unique; a fixed name lets other
    stacks and regions grant on a bucket without a cross-region reference."""
    return f"{config.name}-{account}-{kind}"
