"""The one public entry: WAF -> API Gateway REST API (stage v1) -> VPC link -> internal NLB -> Envoy pods.

A REST API (v1), not an HTTP API: only a REST API stage takes a WAF web ACL,
usage plans and per-method throttling. The NLB and its target group live here;
the chart's TargetGroupBinding registers the Envoy pods in it.
"""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_route53_targets as targets
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from infra import limits
from infra.config import EnvConfig
from infra.routes import sign_in_routes
from infra.stacks.cluster import ClusterStack
from infra.stacks.common import log_group
from infra.stacks.nag import AWS_MANAGED_POLICY, suppress
from infra.stacks.network import NetworkStack

STAGE = "v1"
ENVOY_PORT = 8080
LISTENER_PORT = 80
MANAGED_RULE_GROUPS = (
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesAmazonIpReputationList",
)


class EdgeStack(Stack):
    def __init__(
        self,
        scope: Construct,
        cid: str,
        *,
        config: EnvConfig,
        network: NetworkStack,
        cluster: ClusterStack,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, cid, **kwargs)  # type: ignore[arg-type]
        vpc = network.vpc
        self.nlb = elbv2.NetworkLoadBalancer(
            self,
            "Nlb",
            vpc=vpc,
            internet_facing=False,
            vpc_subnets=network.app_subnets,
            cross_zone_enabled=True,
            deletion_protection=config.production,
        )
        suppress(
            self.nlb,
            {
                "AwsSolutions-ELB2": "NLB access logs cover TLS listeners only; every request is "
                "logged at the API Gateway stage in front of it."
            },
        )
        self.target_group = elbv2.NetworkTargetGroup(
            self,
            "Envoy",
            target_group_name=f"{config.name}-envoy",
            vpc=vpc,
            port=ENVOY_PORT,
            protocol=elbv2.Protocol.TCP,
            target_type=elbv2.TargetType.IP,
            deregistration_delay=Duration.seconds(15),
            health_check=elbv2.HealthCheck(protocol=elbv2.Protocol.TCP, interval=Duration.seconds(10)),
        )
        self.nlb.add_listener("Http", port=LISTENER_PORT, default_target_groups=[self.target_group])
        # The NLB sends from its own addresses in the VPC to the pod IPs (cluster security group).
        ec2.CfnSecurityGroupIngress(
            self,
            "NlbToEnvoy",
            group_id=cluster.cluster.attr_cluster_security_group_id,
            ip_protocol="tcp",
            from_port=ENVOY_PORT,
            to_port=ENVOY_PORT,
            cidr_ip=vpc.vpc_cidr_block,
            description="internal NLB to Envoy pods",
        )
        link = apigw.VpcLink(self, "Link", targets=[self.nlb], vpc_link_name=f"{config.name}-nlb")
        access_logs = log_group(self, "AccessLogs", config)
        self.sign_in = sign_in_routes()
        self.api = apigw.RestApi(
            self,
            "Api",
            rest_api_name=f"{config.name}-api",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=RemovalPolicy.DESTROY,
            deploy_options=apigw.StageOptions(
                stage_name=STAGE,
                throttling_rate_limit=limits.STAGE.rate_per_second,
                throttling_burst_limit=limits.STAGE.burst,
                tracing_enabled=True,
                logging_level=apigw.MethodLoggingLevel.ERROR,
                metrics_enabled=True,
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=False,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=False,
                ),
                method_options={
                    f"/{path.removeprefix('/v1/')}/{verb}": apigw.MethodDeploymentOptions(
                        throttling_rate_limit=limits.AUTH_ROUTES.rate_per_second,
                        throttling_burst_limit=limits.AUTH_ROUTES.burst,
                    )
                    for verb, path in self.sign_in
                },
            ),
        )
        # Bodies are checked by the transcoder against the proto; parameters here.
        validator = self.api.add_request_validator(
            "Requests", validate_request_parameters=True, validate_request_body=True
        )
        origin = f"http://{self.nlb.load_balancer_dns_name}:{LISTENER_PORT}"

        def integration(path: str, method: str, params: dict[str, str] | None = None) -> apigw.Integration:
            return apigw.Integration(
                type=apigw.IntegrationType.HTTP_PROXY,
                integration_http_method=method,
                uri=f"{origin}{path}",
                options=apigw.IntegrationOptions(
                    connection_type=apigw.ConnectionType.VPC_LINK,
                    vpc_link=link,
                    request_parameters=params,
                    timeout=Duration.seconds(29),
                ),
            )

        # Everything under the stage goes to Envoy's /v1/...: the stage is the API version.
        proxy = self.api.root.add_resource("{proxy+}")
        proxy.add_method(
            "ANY",
            integration(
                "/v1/{proxy}", "ANY", {"integration.request.path.proxy": "method.request.path.proxy"}
            ),
            request_parameters={"method.request.path.proxy": True},
            request_validator=validator,
        )
        # Sign-in routes get their own resources so the stage can throttle them apart.
        for verb, path in self.sign_in:
            self.api.root.add_resource(path.removeprefix("/v1/")).add_method(
                verb, integration(path, verb), request_validator=validator
            )
        self.api.add_usage_plan(
            "AppPlan",
            name=f"{config.name}-app",
            throttle=apigw.ThrottleSettings(
                rate_limit=limits.USAGE_PLAN.rate_per_second, burst_limit=limits.USAGE_PLAN.burst
            ),
            api_stages=[apigw.UsagePlanPerApiStage(api=self.api, stage=self.api.deployment_stage)],
        )
        suppress(
            self.api,
            {
                "AwsSolutions-APIG4": "Every RPC but sign-in needs a Cognito JWT, verified in the "
                "services by one interceptor (issuer, audience, token_use); sign-in must stay open.",
                "AwsSolutions-COG4": "As APIG4: the services verify the Cognito JWTs themselves.",
                "AwsSolutions-IAM4": AWS_MANAGED_POLICY,
                "AwsSolutions-APIG3": "The web ACL is attached by the WebAclAssociation below.",
            },
        )
        self.web_acl = self._waf(config)
        stage_arn = (
            f"arn:{self.partition}:apigateway:{self.region}::/restapis/{self.api.rest_api_id}/stages/{STAGE}"
        )
        association = wafv2.CfnWebACLAssociation(
            self, "WafOnStage", resource_arn=stage_arn, web_acl_arn=self.web_acl.attr_arn
        )
        association.node.add_dependency(self.api.deployment_stage)
        if config.custom_domain:
            self._custom_domain(config)
        CfnOutput(self, "TargetGroupArn", value=self.target_group.target_group_arn)
        CfnOutput(self, "ApiUrl", value=self.api.url)

    def _custom_domain(self, config: EnvConfig) -> None:
        """https://<domain>/v1/... in every region; Route 53 answers with the nearest (latency records)."""
        zone = route53.HostedZone.from_hosted_zone_attributes(
            self, "Zone", hosted_zone_id=config.hosted_zone_id, zone_name=config.hosted_zone_name
        )
        certificate = acm.Certificate(
            self,
            "Certificate",
            domain_name=config.domain,
            validation=acm.CertificateValidation.from_dns(zone),
        )
        domain = apigw.DomainName(
            self,
            "Domain",
            domain_name=config.domain,
            certificate=certificate,
            endpoint_type=apigw.EndpointType.REGIONAL,
            security_policy=apigw.SecurityPolicy.TLS_1_2,
        )
        # The path keeps its version: /v1/groups reaches the stage v1 as /groups.
        domain.add_base_path_mapping(self.api, base_path=STAGE, stage=self.api.deployment_stage)
        route53.ARecord(
            self,
            "Latency",
            zone=zone,
            record_name=config.domain,
            target=route53.RecordTarget.from_alias(targets.ApiGatewayDomain(domain)),
            region=self.region,
            set_identifier=self.region,
        )

    def _waf(self, config: EnvConfig) -> wafv2.CfnWebACL:
        def visibility(name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
            return wafv2.CfnWebACL.VisibilityConfigProperty(
                cloud_watch_metrics_enabled=True, metric_name=name, sampled_requests_enabled=True
            )

        rules = [
            wafv2.CfnWebACL.RuleProperty(
                name=group,
                priority=index,
                override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
                statement=wafv2.CfnWebACL.StatementProperty(
                    managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                        vendor_name="AWS", name=group
                    )
                ),
                visibility_config=visibility(group),
            )
            for index, group in enumerate(MANAGED_RULE_GROUPS)
        ]

        def exact_path(path: str) -> wafv2.CfnWebACL.StatementProperty:
            return wafv2.CfnWebACL.StatementProperty(
                byte_match_statement=wafv2.CfnWebACL.ByteMatchStatementProperty(
                    field_to_match=wafv2.CfnWebACL.FieldToMatchProperty(uri_path={}),
                    positional_constraint="EXACTLY",
                    search_string=path,
                    text_transformations=[
                        wafv2.CfnWebACL.TextTransformationProperty(priority=0, type="NONE")
                    ],
                )
            )

        auth_paths = wafv2.CfnWebACL.StatementProperty(
            byte_match_statement=wafv2.CfnWebACL.ByteMatchStatementProperty(
                field_to_match=wafv2.CfnWebACL.FieldToMatchProperty(uri_path={}),
                positional_constraint="STARTS_WITH",
                search_string=limits.AUTH_PATH_PREFIX,
                text_transformations=[wafv2.CfnWebACL.TextTransformationProperty(priority=0, type="NONE")],
            )
        )
        per_method = [
            (f"per-ip-{path.rsplit(':', 1)[1]}", limit, exact_path(path))
            for path, limit in limits.WAF_PER_IP_METHOD.items()
        ]
        for priority, (name, limit, scope) in enumerate(
            (
                *per_method,
                ("per-ip-sign-in", limits.WAF_PER_IP_AUTH, auth_paths),
                ("per-ip-all", limits.WAF_PER_IP_ALL, None),
            ),
            start=len(rules),
        ):
            rules.append(
                wafv2.CfnWebACL.RuleProperty(
                    name=name,
                    priority=priority,
                    action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                    statement=wafv2.CfnWebACL.StatementProperty(
                        rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                            limit=limit,
                            aggregate_key_type="IP",
                            evaluation_window_sec=limits.WAF_WINDOW_SECONDS,
                            scope_down_statement=scope,
                        )
                    ),
                    visibility_config=visibility(name),
                )
            )
        acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            name=f"{config.name}-api",
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=visibility(f"{config.name}-api"),
            rules=rules,
        )
        # WAF only writes to log groups whose name starts with aws-waf-logs-.
        waf_logs = log_group(self, "WafLogs", config, f"aws-waf-logs-{config.name}-{self.region}")
        wafv2.CfnLoggingConfiguration(
            self, "WafLogging", resource_arn=acl.attr_arn, log_destination_configs=[waf_logs.log_group_arn]
        )
        return acl
