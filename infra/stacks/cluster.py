"""EKS (L1 resources: no kubectl Lambda), its Graviton node group, add-ons and Pod Identity.

Each workload gets one IAM role allowing exactly the calls infra/permissions.py
declares for it, bound to the chart's ServiceAccount by a Pod Identity
association; the platform controllers get theirs the same way.
"""

from __future__ import annotations

from aws_cdk import CfnOutput, Fn, Stack
from aws_cdk import aws_eks as eks
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra import permissions
from infra.config import EnvConfig
from infra.stacks.auth import AuthStack
from infra.stacks.common import log_group, rotating_key
from infra.stacks.data import DATA_KEY_ALIAS, bucket_name
from infra.stacks.messaging import MESSAGING_KEY_ALIAS
from infra.stacks.nag import AWS_MANAGED_POLICY, suppress
from infra.stacks.network import NetworkStack

APP_NAMESPACE = "hisaab"
# Add-ons EKS installs and upgrades itself; the versions follow the cluster's.
ADDONS = ("vpc-cni", "coredns", "kube-proxy", "eks-pod-identity-agent", "metrics-server")
# Platform controllers with their own Pod Identity: (namespace, service account).
LOAD_BALANCER_CONTROLLER = ("kube-system", "aws-load-balancer-controller")
EXTERNAL_SECRETS = ("external-secrets", "external-secrets")
ADOT_COLLECTOR = ("observability", "adot-collector")
# Log groups the CloudWatch Observability add-on writes (application = the pods' stdout).
CONTAINER_LOG_GROUPS = ("application", "dataplane", "host", "performance")


class ClusterStack(Stack):
    def __init__(
        self,
        scope: Construct,
        cid: str,
        *,
        config: EnvConfig,
        network: NetworkStack,
        auth: AuthStack | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, cid, **kwargs)  # type: ignore[arg-type]
        self.config = config
        key = rotating_key(
            self,
            "SecretsKey",
            "Envelope encryption of Kubernetes Secrets",
            alias=f"{config.name}-{self.region}/eks-secrets",
        )
        cluster_role = iam.Role(
            self,
            "ClusterRole",
            assumed_by=iam.ServicePrincipal("eks.amazonaws.com"),
            managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name("AmazonEKSClusterPolicy")],
        )
        subnets = network.vpc.select_subnets(subnet_group_name="app").subnet_ids
        self.cluster = eks.CfnCluster(
            self,
            "Cluster",
            name=config.name,
            version=config.kubernetes_version,
            role_arn=cluster_role.role_arn,
            resources_vpc_config=eks.CfnCluster.ResourcesVpcConfigProperty(
                subnet_ids=subnets,
                endpoint_private_access=True,
                endpoint_public_access=bool(config.admin_cidrs),
                public_access_cidrs=list(config.admin_cidrs) or None,
            ),
            access_config=eks.CfnCluster.AccessConfigProperty(
                authentication_mode="API", bootstrap_cluster_creator_admin_permissions=False
            ),
            encryption_config=[
                eks.CfnCluster.EncryptionConfigProperty(
                    provider=eks.CfnCluster.ProviderProperty(key_arn=key.key_arn), resources=["secrets"]
                )
            ],
            logging=eks.CfnCluster.LoggingProperty(
                cluster_logging=eks.CfnCluster.ClusterLoggingProperty(
                    enabled_types=[
                        eks.CfnCluster.LoggingTypeConfigProperty(type=t)
                        for t in ("api", "audit", "authenticator", "controllerManager", "scheduler")
                    ]
                )
            ),
        )
        if config.admin_cidrs:
            suppress(
                self.cluster,
                {
                    "AwsSolutions-EKS1": "The API endpoint is public only to HISAAB_INFRA_ADMIN_CIDRS "
                    "(the operators' networks), and every call still needs an access entry."
                },
            )
        CfnOutput(self, "ClusterName", value=self.cluster.ref)
        node_role = iam.Role(
            self,
            "NodeRole",
            assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name(name)
                for name in (
                    "AmazonEKSWorkerNodePolicy",
                    "AmazonEC2ContainerRegistryReadOnly",
                    "AmazonEKS_CNI_Policy",
                )
            ],
        )
        suppress(cluster_role, {"AwsSolutions-IAM4": AWS_MANAGED_POLICY})
        suppress(node_role, {"AwsSolutions-IAM4": AWS_MANAGED_POLICY})
        self.nodegroup = eks.CfnNodegroup(
            self,
            "Nodes",
            cluster_name=self.cluster.ref,
            nodegroup_name=f"{config.name}-graviton",
            node_role=node_role.role_arn,
            subnets=subnets,
            ami_type="AL2023_ARM_64_STANDARD",
            capacity_type="SPOT" if config.spot else "ON_DEMAND",
            instance_types=list(config.node_instance_types),
            scaling_config=eks.CfnNodegroup.ScalingConfigProperty(
                min_size=config.node_min, max_size=config.node_max, desired_size=config.node_desired
            ),
            update_config=eks.CfnNodegroup.UpdateConfigProperty(max_unavailable=1),
            labels={"hisaab.app/capacity": "spot" if config.spot else "on-demand"},
        )
        for addon in ADDONS:
            resource = eks.CfnAddon(
                self,
                f"Addon-{addon}",
                cluster_name=self.cluster.ref,
                addon_name=addon,
                resolve_conflicts="OVERWRITE",
            )
            # coredns and metrics-server need nodes to become ACTIVE.
            resource.add_resource_dependency(self.nodegroup)
        self._container_logs(config)
        for index, arn in enumerate(config.admin_role_arns):
            eks.CfnAccessEntry(
                self,
                f"Admin{index}",
                cluster_name=self.cluster.ref,
                principal_arn=arn,
                access_policies=[
                    eks.CfnAccessEntry.AccessPolicyProperty(
                        policy_arn="arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy",
                        access_scope=eks.CfnAccessEntry.AccessScopeProperty(type="cluster"),
                    )
                ],
            )
        self.workload_roles: dict[str, iam.Role] = {}
        self.associations: dict[tuple[str, str], eks.CfnPodIdentityAssociation] = {}
        # Every workload's role names the primary region's resources by name, so the
        # second region's cluster (phase 3) gets the same roles without cross-region references.
        resources = self._resource_arns(auth)
        encrypted = {r for r in permissions.RESOURCES if r.endswith(("_topic", "_queue"))}
        for workload in permissions.CALLS:
            statements = [
                iam.PolicyStatement(actions=sorted(actions), resources=resources[resource])
                for resource, actions in sorted(permissions.grants(workload).items())
            ]
            if encrypted & set(permissions.grants(workload)):
                # The topic and queues are KMS-encrypted: sending and receiving need the key.
                statements.append(self._key_use(["kms:Decrypt", "kms:GenerateDataKey"], MESSAGING_KEY_ALIAS))
            self.workload_roles[workload] = self._pod_role(
                workload, APP_NAMESPACE, permissions.service_account(workload), statements
            )
        self._platform_roles()

    def _container_logs(self, config: EnvConfig) -> None:
        """Pod stdout (the services' JSON logs) to CloudWatch Logs, through the CloudWatch add-on."""
        for kind in CONTAINER_LOG_GROUPS:
            # Created here so they have a retention; the add-on would create them without one.
            log_group(self, f"ContainerLogs-{kind}", config, f"/aws/containerinsights/{config.name}/{kind}")
        role = iam.Role(
            self,
            "CloudWatchAgent",
            assumed_by=iam.ServicePrincipal("pods.eks.amazonaws.com"),
            managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name("CloudWatchAgentServerPolicy")],
        )
        role.assume_role_policy.add_statements(  # type: ignore[union-attr]
            iam.PolicyStatement(
                actions=["sts:TagSession"], principals=[iam.ServicePrincipal("pods.eks.amazonaws.com")]
            )
        )
        suppress(role, {"AwsSolutions-IAM4": AWS_MANAGED_POLICY})
        addon = eks.CfnAddon(
            self,
            "Addon-amazon-cloudwatch-observability",
            cluster_name=self.cluster.ref,
            addon_name="amazon-cloudwatch-observability",
            resolve_conflicts="OVERWRITE",
            pod_identity_associations=[
                eks.CfnAddon.PodIdentityAssociationProperty(
                    role_arn=role.role_arn, service_account="cloudwatch-agent"
                )
            ],
        )
        addon.add_resource_dependency(self.nodegroup)

    def _resource_arns(self, auth: AuthStack | None) -> dict[str, list[str]]:
        config, partition, account = self.config, self.partition, self.account
        home = config.region
        sns = f"arn:{partition}:sns:{home}:{account}"
        sqs = f"arn:{partition}:sqs:{home}:{account}"
        return {
            # The pool's id is generated: exact in its own region, any pool of the account elsewhere.
            "user_pool": [
                auth.user_pool.user_pool_arn
                if auth
                else f"arn:{partition}:cognito-idp:{home}:{account}:userpool/*"
            ],
            "receipts_bucket": [f"arn:{partition}:s3:::{bucket_name(config, account, 'receipts')}/*"],
            "exports_bucket": [f"arn:{partition}:s3:::{bucket_name(config, account, 'exports')}/*"],
            "analytics_bucket": [f"arn:{partition}:s3:::{bucket_name(config, account, 'analytics')}/*"],
            "events_topic": [f"{sns}:{config.name}-events"],
            "notification_queue": [f"{sqs}:{config.name}-notification"],
            "jobs_queue": [f"{sqs}:{config.name}-jobs"],
            "scans_queue": [f"{sqs}:{config.name}-scans"],
            "activity_queue": [f"{sqs}:{config.name}-activity"],
            "group_queue": [f"{sqs}:{config.name}-group"],
            # Textract's AnalyzeExpense has no resource-level permissions.
            "textract": ["*"],
            "push_apps": [f"{sns}:app/*/{config.name}-*"],
            "push_endpoints": [f"{sns}:endpoint/*/{config.name}-*/*"],
            "sms": ["*"],
            "email_identity": [f"arn:{partition}:ses:{home}:{account}:identity/*"],
        }

    def _key_use(self, actions: list[str], alias: str) -> iam.PolicyStatement:
        """Use of the primary region's key behind ``alias`` (its id is generated)."""
        return iam.PolicyStatement(
            actions=actions,
            resources=[f"arn:{self.partition}:kms:{self.config.region}:{self.account}:key/*"],
            conditions={
                "ForAnyValue:StringEquals": {
                    "kms:ResourceAliases": f"alias/{alias.format(name=self.config.name)}"
                }
            },
        )

    def _pod_role(
        self, name: str, namespace: str, service_account: str, statements: list[iam.PolicyStatement]
    ) -> iam.Role:
        role = iam.Role(
            self,
            f"Pod-{name}",
            role_name=f"{self.config.name}-{self.region}-{name}",
            assumed_by=iam.ServicePrincipal("pods.eks.amazonaws.com"),
            description=f"Pod Identity of {namespace}/{service_account}",
            inline_policies={"calls": iam.PolicyDocument(statements=statements)} if statements else None,
        )
        # Pod Identity also tags the session with the pod's attributes.
        role.assume_role_policy.add_statements(  # type: ignore[union-attr]
            iam.PolicyStatement(
                actions=["sts:TagSession"], principals=[iam.ServicePrincipal("pods.eks.amazonaws.com")]
            )
        )
        wildcard_reasons = {
            "AwsSolutions-IAM5": "Object-level S3 actions name the bucket's objects (bucket/*); SNS SMS "
            "and push endpoints have no fixed ARN; SES identities are the operator's domain."
        }
        suppress(role, wildcard_reasons)
        self.associations[(namespace, service_account)] = eks.CfnPodIdentityAssociation(
            self,
            f"Assoc-{name}",
            cluster_name=self.cluster.ref,
            namespace=namespace,
            service_account=service_account,
            role_arn=role.role_arn,
        )
        return role

    def _platform_roles(self) -> None:
        secrets = [
            f"arn:{self.partition}:secretsmanager:{self.region}:{self.account}:secret:{self.config.name}/*"
        ]
        self._pod_role(
            "external-secrets",
            *EXTERNAL_SECRETS,
            [
                iam.PolicyStatement(
                    actions=["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                    resources=secrets,
                ),
                self._key_use(["kms:Decrypt"], DATA_KEY_ALIAS),
            ],
        )
        self._pod_role(
            "adot-collector",
            *ADOT_COLLECTOR,
            [
                iam.PolicyStatement(
                    actions=[
                        "xray:PutTraceSegments",
                        "xray:PutTelemetryRecords",
                        "xray:GetSamplingRules",
                        "xray:GetSamplingTargets",
                    ],
                    resources=["*"],
                ),
                iam.PolicyStatement(
                    actions=["logs:PutLogEvents", "logs:CreateLogStream", "logs:DescribeLogStreams"],
                    resources=[
                        f"arn:{self.partition}:logs:{self.region}:{self.account}:log-group:/hisaab/{self.config.env}/*"
                    ],
                ),
            ],
        )
        # TargetGroupBinding only: the NLB and its target group belong to the edge stack,
        # so the controller registers pod IPs and reads, nothing more.
        self._pod_role(
            "load-balancer-controller",
            *LOAD_BALANCER_CONTROLLER,
            [
                iam.PolicyStatement(
                    actions=[
                        "elasticloadbalancing:RegisterTargets",
                        "elasticloadbalancing:DeregisterTargets",
                    ],
                    resources=[
                        f"arn:{self.partition}:elasticloadbalancing:{self.region}:{self.account}:targetgroup/{self.config.name}-*/*"
                    ],
                ),
                iam.PolicyStatement(
                    actions=[
                        "elasticloadbalancing:DescribeTargetGroups",
                        "elasticloadbalancing:DescribeTargetHealth",
                        "elasticloadbalancing:DescribeListeners",
                        "elasticloadbalancing:DescribeLoadBalancers",
                        "elasticloadbalancing:DescribeTags",
                        "ec2:DescribeInstances",
                        "ec2:DescribeNetworkInterfaces",
                        "ec2:DescribeSubnets",
                        "ec2:DescribeSecurityGroups",
                        "ec2:DescribeVpcs",
                    ],
                    resources=["*"],
                ),
            ],
        )

    @property
    def oidc_issuer(self) -> str:
        return Fn.get_att(self.cluster.logical_id, "OpenIdConnectIssuerUrl").to_string()
