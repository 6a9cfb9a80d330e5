"""VPC: the longest-lived piece; everything else is placed in it."""

from __future__ import annotations

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from infra.config import EnvConfig
from infra.stacks.common import log_group

APP_SUBNETS = "app"  # pods, NLB, VPC link targets; egress through NAT
DATA_SUBNETS = "data"  # Aurora and the cache; no route out at all


class NetworkStack(Stack):
    def __init__(self, scope: Construct, cid: str, *, config: EnvConfig, cidr: str, **kwargs: object) -> None:
        super().__init__(scope, cid, **kwargs)  # type: ignore[arg-type]
        region = self.region
        flow_logs = log_group(self, "FlowLogs", config)
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(cidr),
            availability_zones=[f"{region}{zone}" for zone in "abc"[: config.az_count]],
            nat_gateways=config.nat_gateways,
            # A custom resource Lambda would be needed to empty the default group; nothing uses it.
            restrict_default_security_group=False,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
                ec2.SubnetConfiguration(
                    name=APP_SUBNETS, subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=19
                ),
                ec2.SubnetConfiguration(
                    name=DATA_SUBNETS, subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24
                ),
            ],
            flow_logs={
                "all": ec2.FlowLogOptions(
                    destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs),
                    traffic_type=ec2.FlowLogTrafficType.REJECT,
                )
            },
        )
        # Free, and receipts/exports/ECR image layers never cross the NAT gateway.
        self.vpc.add_gateway_endpoint("S3", service=ec2.GatewayVpcEndpointAwsService.S3)
        # The NLB sends from these addresses: the gateway's NetworkPolicy admits them.
        CfnOutput(self, "VpcCidr", value=self.vpc.vpc_cidr_block)

    @property
    def app_subnets(self) -> ec2.SubnetSelection:
        return ec2.SubnetSelection(subnet_group_name=APP_SUBNETS)

    @property
    def data_subnets(self) -> ec2.SubnetSelection:
        return ec2.SubnetSelection(subnet_group_name=DATA_SUBNETS)
