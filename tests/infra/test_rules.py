"""The rules the stacks promise, asserted on the synthesized templates of every environment x phase."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from infra import limits, permissions
from infra.stacks.edge import STAGE
from libs import aws
from libs import limits as sign_in_limits
from libs.jobs.messages import input_template
from libs.jobs.schedules import SCHEDULES
from tests.infra.conftest import CASES, Synthesized

Synth = dict[tuple[str, int], Synthesized]


def _resources(template: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r.get("Properties", {}) for r in template.get("Resources", {}).values() if r["Type"] == kind]


@pytest.mark.parametrize(("env", "phase"), CASES)
def test_aurora_instances_per_phase_and_protection_outside_dev(
    synthesized: Synth, env: str, phase: int
) -> None:
    deployment = synthesized[(env, phase)].deployment
    data = Template.from_stack(deployment.data)
    instances = data.find_resources("AWS::RDS::DBInstance")
    readers = 0 if phase == 1 else (2 if env == "prod" else 1)
    assert len(instances) == 1 + readers
    data.has_resource_properties(
        "AWS::RDS::DBCluster",
        {
            "StorageEncrypted": True,
            "DeletionProtection": env != "dev",
            "BackupRetentionPeriod": Match.any_value(),
            "ServerlessV2ScalingConfiguration": {
                "MinCapacity": 0 if env == "dev" else 0.5,
                "MaxCapacity": Match.any_value(),
            },
        },
    )
    data.resource_count_is("AWS::SecretsManager::RotationSchedule", 1)
    data.resource_count_is("AWS::RDS::GlobalCluster", 1 if phase == 3 else 0)


@pytest.mark.parametrize(("env", "phase"), CASES)
def test_no_cache_in_phase_one_and_tls_with_auth_after(synthesized: Synth, env: str, phase: int) -> None:
    data = Template.from_stack(synthesized[(env, phase)].deployment.data)
    if phase == 1:
        data.resource_count_is("AWS::ElastiCache::ReplicationGroup", 0)
        return
    data.has_resource_properties(
        "AWS::ElastiCache::ReplicationGroup",
        {
            "Engine": "valkey",
            "TransitEncryptionEnabled": True,
            "TransitEncryptionMode": "required",
            "AtRestEncryptionEnabled": True,
            "AuthToken": Match.any_value(),
        },
    )


def test_cognito_passwordless_otp_on_essentials_with_a_public_user_auth_client(synthesized: Synth) -> None:
    auth = Template.from_stack(synthesized[("prod", 1)].deployment.auth)
    auth.has_resource_properties(
        "AWS::Cognito::UserPool",
        {
            "UserPoolTier": "ESSENTIALS",
            "Policies": {
                "SignInPolicy": {"AllowedFirstAuthFactors": Match.array_with(["EMAIL_OTP", "SMS_OTP"])}
            },
            "SmsConfiguration": {"SnsCallerArn": Match.any_value(), "ExternalId": Match.any_value()},
        },
    )
    auth.has_resource_properties(
        "AWS::Cognito::UserPoolClient",
        {"GenerateSecret": False, "ExplicitAuthFlows": Match.array_with(["ALLOW_USER_AUTH"])},
    )


@pytest.mark.parametrize(("env", "phase"), CASES)
def test_every_queue_has_a_dead_letter_queue_with_an_alarm(synthesized: Synth, env: str, phase: int) -> None:
    deployment = synthesized[(env, phase)].deployment
    queues = Template.from_stack(deployment.messaging).find_resources("AWS::SQS::Queue")
    dlqs = {lid for lid, q in queues.items() if "RedrivePolicy" not in q["Properties"]}
    working = [q for q in queues.values() if "RedrivePolicy" in q["Properties"]]
    expected = len(deployment.messaging.dead_letter_queues)  # notification, jobs, scans, activity, group
    assert expected == 5 and len(working) == expected and len(dlqs) == expected
    for queue in working:
        policy = queue["Properties"]["RedrivePolicy"]
        assert policy["maxReceiveCount"] == aws.MAX_RECEIVES
        assert policy["deadLetterTargetArn"]["Fn::GetAtt"][0] in dlqs
        assert queue["Properties"]["KmsMasterKeyId"]
    alarms = Template.from_stack(deployment.observability).find_resources("AWS::CloudWatch::Alarm")
    dlq_alarms = [
        a
        for a in alarms.values()
        if a["Properties"].get("MetricName") == "ApproximateNumberOfMessagesVisible"
    ]
    assert len(dlq_alarms) == expected


def test_notification_queue_gets_domain_events_raw(synthesized: Synth) -> None:
    messaging = Template.from_stack(synthesized[("prod", 1)].deployment.messaging)
    messaging.has_resource_properties(
        "AWS::SNS::Subscription",
        {"Protocol": "sqs", "RawMessageDelivery": True, "FilterPolicy": {"event_type": [{"exists": True}]}},
    )


def test_schedules_are_generated_from_the_app_schedule_list(synthesized: Synth) -> None:
    template = synthesized[("prod", 1)].templates()["Hisaab-prod-Messaging"]
    deployed = {
        s["Name"]: (s["ScheduleExpression"], s["ScheduleExpressionTimezone"], s["Target"]["Input"])
        for s in _resources(template, "AWS::Scheduler::Schedule")
    }
    expected = {
        f"hisaab-{s.job.replace('_', '-')}": (s.cron, s.time_zone, input_template(s.job)) for s in SCHEDULES
    }
    assert deployed == expected


@pytest.mark.parametrize(("env", "phase"), CASES)
def test_api_goes_through_the_vpc_link_and_is_throttled(synthesized: Synth, env: str, phase: int) -> None:
    template = synthesized[(env, phase)].templates()[f"Hisaab-{env}-Edge"]
    methods = _resources(template, "AWS::ApiGateway::Method")
    assert methods
    for method in methods:
        integration = method["Integration"]
        assert integration["ConnectionType"] == "VPC_LINK" and integration["Type"] == "HTTP_PROXY"
    [stage] = _resources(template, "AWS::ApiGateway::Stage")
    assert stage["StageName"] == STAGE and stage["TracingEnabled"] is True
    assert json.loads(stage["AccessLogSetting"]["Format"])["status"]
    settings = {s["ResourcePath"]: s for s in stage["MethodSettings"]}
    assert settings["/*"]["ThrottlingRateLimit"] == limits.STAGE.rate_per_second
    assert settings["/~1auth:startSignIn"]["ThrottlingRateLimit"] == limits.AUTH_ROUTES.rate_per_second
    assert _resources(template, "AWS::ApiGateway::UsagePlan")
    assert _resources(template, "AWS::ApiGateway::RestApi")
    assert not _resources(template, "AWS::ApiGatewayV2::Api")


@pytest.mark.parametrize(("env", "phase"), CASES)
def test_waf_attaches_only_to_rest_api_stages_with_tighter_sign_in_limits(
    synthesized: Synth, env: str, phase: int
) -> None:
    template = synthesized[(env, phase)].templates()[f"Hisaab-{env}-Edge"]
    [association] = _resources(template, "AWS::WAFv2::WebACLAssociation")
    arn = json.dumps(association["ResourceArn"])
    assert "/restapis/" in arn and f"/stages/{STAGE}" in arn
    [acl] = _resources(template, "AWS::WAFv2::WebACL")
    rates = {
        r["Name"]: r["Statement"]["RateBasedStatement"]
        for r in acl["Rules"]
        if "RateBasedStatement" in r["Statement"]
    }
    assert rates["per-ip-sign-in"]["Limit"] == limits.WAF_PER_IP_AUTH < rates["per-ip-all"]["Limit"]
    match = rates["per-ip-sign-in"]["ScopeDownStatement"]["ByteMatchStatement"]
    assert match["SearchString"] == limits.AUTH_PATH_PREFIX
    # The per-method numbers are the ones auth-service and the gateway count (libs.limits).
    for path, limit in limits.WAF_PER_IP_METHOD.items():
        rule = rates[f"per-ip-{path.rsplit(':', 1)[1]}"]
        assert rule["Limit"] == limit and rule["EvaluationWindowSec"] == limits.WAF_WINDOW_SECONDS
        assert rule["ScopeDownStatement"]["ByteMatchStatement"]["SearchString"] == path
    assert limits.WAF_PER_IP_METHOD["/v1/auth:startSignIn"] == sign_in_limits.STARTS_PER_ADDRESS.limit
    managed = {
        r["Statement"]["ManagedRuleGroupStatement"]["Name"]
        for r in acl["Rules"]
        if "ManagedRuleGroupStatement" in r["Statement"]
    }
    assert "AWSManagedRulesCommonRuleSet" in managed


@pytest.mark.parametrize(("env", "phase"), CASES)
def test_one_pod_identity_per_workload_with_exactly_its_declared_actions(
    synthesized: Synth, env: str, phase: int
) -> None:
    templates = synthesized[(env, phase)].templates()
    if phase == 3:
        # The second region's cluster binds the same workloads to the same ServiceAccounts.
        second = _resources(templates[f"Hisaab-{env}-Cluster-2"], "AWS::EKS::PodIdentityAssociation")
        assert {a["ServiceAccount"] for a in second if a["Namespace"] == "hisaab"} == {
            permissions.service_account(w) for w in permissions.CALLS
        }
    template = templates[f"Hisaab-{env}-Cluster"]
    associations = _resources(template, "AWS::EKS::PodIdentityAssociation")
    app = {a["ServiceAccount"] for a in associations if a["Namespace"] == "hisaab"}
    assert sorted(app) == sorted(permissions.service_account(w) for w in permissions.CALLS)
    assert len(associations) == len({(a["Namespace"], a["ServiceAccount"]) for a in associations})
    roles = {k: v for k, v in template["Resources"].items() if v["Type"] == "AWS::IAM::Role"}
    for workload in permissions.CALLS:
        name = f"hisaab-{env}-ap-south-1-{workload}"
        [role] = [r for r in roles.values() if r["Properties"].get("RoleName") == name]
        actions = set()
        for policy in role["Properties"].get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                found = statement["Action"]
                actions |= {found} if isinstance(found, str) else set(found)
        declared = (
            set().union(*permissions.grants(workload).values()) if permissions.grants(workload) else set()
        )
        assert {a for a in actions if not a.startswith("kms:")} == declared, workload


def test_buckets_block_public_access_and_refuse_plain_http(synthesized: Synth) -> None:
    data = Template.from_stack(synthesized[("prod", 2)].deployment.data)
    buckets = data.find_resources("AWS::S3::Bucket")
    assert len(buckets) == 4
    for bucket in buckets.values():
        props = bucket["Properties"]
        assert all(props["PublicAccessBlockConfiguration"].values())
        assert props["BucketEncryption"]
    policies = data.find_resources("AWS::S3::BucketPolicy")
    assert len(policies) == 4
    for policy in policies.values():
        assert "aws:SecureTransport" in json.dumps(policy)
    data.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "CorsConfiguration": {
                "CorsRules": [Match.object_like({"AllowedMethods": Match.array_with(["POST"])})]
            }
        },
    )


@pytest.mark.parametrize(("env", "phase"), CASES)
def test_phase_three_adds_a_second_region_and_athena(synthesized: Synth, env: str, phase: int) -> None:
    deployment = synthesized[(env, phase)].deployment
    regions = {s.region for s in deployment.stacks}
    assert len(regions) == (2 if phase == 3 else 1)
    templates = synthesized[(env, phase)].templates()
    athena = [t for t in templates.values() if _resources(t, "AWS::Athena::WorkGroup")]
    assert len(athena) == (1 if phase == 3 else 0)


def test_a_configured_domain_gets_a_latency_record_in_each_region() -> None:
    import dataclasses

    from infra import config
    from infra.app import build, new_app

    cfg = dataclasses.replace(
        config.load("prod", 3),
        domain="api.example.in",
        hosted_zone_id="Z0EXAMPLE",
        hosted_zone_name="example.in",
    )
    app = new_app()
    deployment = build(app, cfg)
    records = []
    for stack in deployment.stacks:
        for record in Template.from_stack(stack).find_resources("AWS::Route53::RecordSet").values():
            records.append(record["Properties"])
    assert sorted(r["Region"] for r in records) == ["ap-south-1", "ap-south-2"]
    assert {r["Name"] for r in records} == {"api.example.in."}
    assert all(r["SetIdentifier"] == r["Region"] for r in records)


def test_the_cluster_api_is_private_unless_admin_networks_are_named(synthesized: Synth) -> None:
    import dataclasses

    from infra import config
    from infra.app import build, new_app

    private = synthesized[("prod", 1)].templates()["Hisaab-prod-Cluster"]
    [cluster] = _resources(private, "AWS::EKS::Cluster")
    assert cluster["ResourcesVpcConfig"]["EndpointPublicAccess"] is False
    app = new_app()
    opened = build(app, dataclasses.replace(config.load("dev", 1), admin_cidrs=("203.0.113.0/24",)))
    vpc_config = Template.from_stack(opened.cluster).find_resources("AWS::EKS::Cluster")
    [props] = [c["Properties"]["ResourcesVpcConfig"] for c in vpc_config.values()]
    assert props["EndpointPublicAccess"] is True and props["PublicAccessCidrs"] == ["203.0.113.0/24"]
