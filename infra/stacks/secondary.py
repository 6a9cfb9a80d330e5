"""Phase 3: the second region's Aurora Global Database member.

The primary cluster joins the global cluster (data stack); this stack adds a
headless-capable secondary cluster with one serverless reader in the second
region. The regional API there reuses the cluster and edge stacks (infra/app.py).
"""

from __future__ import annotations

from aws_cdk import CfnOutput, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_rds as rds
from constructs import Construct

from infra.config import EnvConfig
from infra.stacks.common import rotating_key
from infra.stacks.data import ENGINE_VERSION
from infra.stacks.nag import suppress
from infra.stacks.network import NetworkStack


def global_cluster_id(config: EnvConfig) -> str:
    return f"{config.name}-global"


class SecondaryDatabaseStack(Stack):
    def __init__(
        self, scope: Construct, cid: str, *, config: EnvConfig, network: NetworkStack, **kwargs: object
    ) -> None:
        super().__init__(scope, cid, **kwargs)  # type: ignore[arg-type]
        key = rotating_key(
            self,
            "DataKey",
            "secondary Aurora storage",
            removal=RemovalPolicy.RETAIN if config.production else RemovalPolicy.DESTROY,
        )
        sg = ec2.SecurityGroup(self, "DatabaseSg", vpc=network.vpc, description="Aurora: from the VPC only")
        sg.add_ingress_rule(ec2.Peer.ipv4(network.vpc.vpc_cidr_block), ec2.Port.tcp(5432), "pods")
        subnets = rds.CfnDBSubnetGroup(
            self,
            "Subnets",
            db_subnet_group_description="data subnets",
            subnet_ids=network.vpc.select_subnets(subnet_group_name="data").subnet_ids,
        )
        self.cluster = rds.CfnDBCluster(
            self,
            "Database",
            engine="aurora-postgresql",
            engine_version=ENGINE_VERSION,
            global_cluster_identifier=global_cluster_id(config),
            # The regional API's writes go through to the primary writer.
            enable_global_write_forwarding=True,
            db_subnet_group_name=subnets.ref,
            vpc_security_group_ids=[sg.security_group_id],
            storage_encrypted=True,
            kms_key_id=key.key_arn,
            deletion_protection=config.production,
            backup_retention_period=config.backup_retention_days,
            copy_tags_to_snapshot=True,
            enable_iam_database_authentication=True,
            enable_cloudwatch_logs_exports=["postgresql"],
            serverless_v2_scaling_configuration=rds.CfnDBCluster.ServerlessV2ScalingConfigurationProperty(
                min_capacity=max(config.aurora_min_acu, 0.5), max_capacity=config.aurora_max_acu
            ),
        )
        reasons = {"AwsSolutions-RDS11": "Members of one global database share the primary's port."}
        if not config.production:
            reasons["AwsSolutions-RDS10"] = "dev is torn down freely; staging and prod are protected."
        suppress(self.cluster, reasons)
        self.cluster.apply_removal_policy(
            RemovalPolicy.SNAPSHOT if config.production else RemovalPolicy.DESTROY
        )
        # The regional release's DATABASE_URL (write forwarding) and DATABASE_READER_URL hosts.
        CfnOutput(self, "DatabaseWriterHost", value=self.cluster.attr_endpoint_address)
        CfnOutput(self, "DatabaseReaderHost", value=self.cluster.attr_read_endpoint_address)
        rds.CfnDBInstance(
            self,
            "Reader",
            db_cluster_identifier=self.cluster.ref,
            db_instance_class="db.serverless",
            engine="aurora-postgresql",
            enable_performance_insights=True,
            auto_minor_version_upgrade=True,
            publicly_accessible=False,
        )
