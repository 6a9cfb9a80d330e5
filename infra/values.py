"""Helm values from the deployed stacks' outputs: everything AWS-specific the chart needs.

``cdk deploy --all --outputs-file infra/outputs-<env>.json`` records the
outputs; ``python -m tools.infra values --env <env>`` turns them into
``k8s/values/<env>.aws.yaml``, layered after ``k8s/values/<env>.yaml`` (sizes
and replicas, no AWS identifiers). tests/infra/test_values.py fails when the
chart needs a value no stack output provides.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from infra.config import EnvConfig
from infra.stacks.edge import LISTENER_PORT
from libs.aws import Resources
from libs.catalog import SERVICES


class MissingOutput(KeyError):
    """A value the chart needs has no stack output."""


SECOND_REGION_STACKS = ("-2", "-SecondaryDatabase")


def flatten(
    outputs: Mapping[str, Mapping[str, str]], config: EnvConfig, *, second_region: bool = False
) -> dict[str, str]:
    """Outputs by name (``cdk deploy --outputs-file`` nests them by stack).

    The primary region's release reads the primary's stacks. The second
    region's release (phase 3) reads the same, overlaid with its own network,
    edge and database member: the shared resources (Cognito, topic, queues,
    buckets, secrets) stay the primary's.
    """
    prefix = f"Hisaab-{config.env}-"
    ours = {s: v for s, v in outputs.items() if s.startswith(prefix)}
    flat: dict[str, str] = {}
    for stack, values in ours.items():
        if not stack.endswith(SECOND_REGION_STACKS):
            flat.update(values)
    if second_region:
        for stack, values in ours.items():
            if stack.endswith(SECOND_REGION_STACKS):
                flat.update(values)
    return flat


def chart_values(config: EnvConfig, outputs: Mapping[str, str]) -> dict[str, Any]:
    def out(name: str) -> str:
        if not outputs.get(name):
            raise MissingOutput(name)
        return outputs[name]

    topic = out("EventsTopicArn")
    account = topic.split(":")[4]
    sns = f"arn:aws:sns:{config.region}:{account}:app"
    resources = Resources(
        events_topic_arn=topic,
        notification_queue_url=out("NotificationQueueUrl"),
        jobs_queue_url=out("JobsQueueUrl"),
        scans_queue_url=out("ScansQueueUrl"),
        activity_queue_url=out("ActivityQueueUrl"),
        group_queue_url=out("GroupQueueUrl"),
        receipts_bucket=out("ReceiptsBucket"),
        exports_bucket=out("ExportsBucket"),
        analytics_bucket=out("AnalyticsBucket"),
        # SNS platform applications hold FCM/APNs credentials and have no
        # CloudFormation type: docs/deploy.md creates them under these names.
        push_android_app_arn=f"{sns}/GCM/{config.name}-android",
        push_ios_app_arn=f"{sns}/APNS/{config.name}-ios",
        email_sender=config.email_sender,
        scheduler_role_arn=out("SchedulerRoleArn"),
    )
    service_clients = ",".join(f"{s.name}={out(f'{s.name.title()}ServiceClientId')}" for s in SERVICES)
    external: dict[str, Any] = {
        "enabled": True,
        "databaseSecret": out("DatabaseSecretName"),
        "databaseReaderHost": out("DatabaseReaderHost"),
        # The primary's writer, or in the second region its member (write forwarding).
        "databaseWriterHost": out("DatabaseWriterHost"),
        "envSecrets": [out("PaymentSecretName"), out("PageTokenSecretName")],
        # Each service's own client secret reaches only that service's pods (and its workers).
        "identitySecrets": {s.name: out(f"{s.name.title()}ServiceSecretName") for s in SERVICES},
    }
    if config.cache:
        external |= {"cacheSecret": out("CacheSecretName"), "cacheHost": out("CacheHost")}
    return {
        "image": {"registry": out("Registry")},
        "config": {
            "env": config.env,
            "aws": {"region": config.region},
            "auth": {
                "provider": "cognito",
                "cognitoUserPoolId": out("UserPoolId"),
                "cognitoClientId": out("AppClientId"),
                "jwksUrl": out("JwksUrl"),
            },
            "extraEnv": {
                **resources.env(),
                # Where services fetch their own identity (client credentials), and
                # which client is which service (the receiver's check).
                "HISAAB_SERVICE_TOKEN_URL": out("ServiceTokenUrl"),
                "HISAAB_SERVICE_CLIENT_IDS": service_clients,
            },
        },
        "secrets": {"redis": {"enabled": config.cache}},
        "externalSecrets": external,
        "gateway": {
            # The CDK app owns the NLB; the Service only names the pods for the binding.
            "service": {"type": "ClusterIP", "port": LISTENER_PORT, "annotations": None},
            "targetGroupBinding": {"enabled": True, "targetGroupArn": out("TargetGroupArn")},
            "allowedCidrs": [out("VpcCidr")],
        },
    }
