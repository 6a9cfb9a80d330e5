"""Alarms to one topic, one dashboard, the X-Ray sampling rule and the collector's log group."""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subs
from aws_cdk import aws_xray as xray
from constructs import Construct

from infra.config import EnvConfig
from infra.stacks.common import log_group, rotating_key
from infra.stacks.data import DataStack
from infra.stacks.edge import STAGE, EdgeStack
from infra.stacks.messaging import MessagingStack
from libs.metrics import names

# Thresholds: a tenth of a percent of 5xx is already many unhappy users; p99 over
# two seconds feels broken on a phone.
API_5XX_RATE = 0.01
API_P99_MS = 2000
AURORA_CPU_PERCENT = 80
AURORA_ACU_PERCENT = 90  # of max capacity: time to raise it
AURORA_REPLICA_LAG_MS = 1000
CACHE_CPU_PERCENT = 75
# The relay publishes within a second when healthy; five minutes of waiting means it is
# down or the broker refuses, and notifications are late for everyone.
OUTBOX_AGE_SECONDS = 300
# A message waiting this long is a consumer that is down or far behind.
QUEUE_LAG_SECONDS = 300


class ObservabilityStack(Stack):
    def __init__(
        self,
        scope: Construct,
        cid: str,
        *,
        config: EnvConfig,
        data: DataStack,
        messaging: MessagingStack,
        edge: EdgeStack,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, cid, **kwargs)  # type: ignore[arg-type]
        key = rotating_key(self, "AlarmKey", "alarm topic")
        self.alarm_topic = sns.Topic(
            self, "Alarms", topic_name=f"{config.name}-alarms", master_key=key, enforce_ssl=True
        )
        # CloudWatch must be able to publish to the encrypted topic.
        key.grant_encrypt_decrypt(_cloudwatch_principal())
        if config.alarm_email:
            self.alarm_topic.add_subscription(subs.EmailSubscription(config.alarm_email))
        # The ADOT collector's EMF metrics (k8s/observability/adot-collector.yaml); pod logs
        # go to /aws/containerinsights/<cluster>/application (cluster stack).
        log_group(self, "Logs-metrics", config, f"/hisaab/{config.env}/metrics")
        api = {"ApiName": edge.api.rest_api_name, "Stage": STAGE}
        self.alarms: list[cw.Alarm] = []
        requests = cw.Metric(
            namespace="AWS/ApiGateway", metric_name="Count", dimensions_map=api, statistic="Sum"
        )
        errors = cw.Metric(
            namespace="AWS/ApiGateway", metric_name="5XXError", dimensions_map=api, statistic="Sum"
        )
        error_rate = cw.MathExpression(
            expression="IF(requests > 100, errors / requests, 0)",
            using_metrics={"errors": errors, "requests": requests},
            period=Duration.minutes(5),
            label="5xx rate",
        )
        latency = cw.Metric(
            namespace="AWS/ApiGateway", metric_name="Latency", dimensions_map=api, statistic="p99"
        )
        self._alarm("Api5xxRate", error_rate, API_5XX_RATE, "API 5xx rate over 1%")
        self._alarm("ApiP99Latency", latency, API_P99_MS, "API p99 latency over 2 s", periods=3)
        for dlq in messaging.dead_letter_queues:
            self._alarm(
                f"DlqDepth-{dlq.node.id}",
                dlq.metric_approximate_number_of_messages_visible(
                    period=Duration.minutes(1), statistic="Maximum"
                ),
                0,
                "a message gave up after its retries",
            )
        self._app_alarms()
        db = data.database
        self._alarm("AuroraCpu", db.metric_cpu_utilization(), AURORA_CPU_PERCENT, "Aurora CPU", periods=3)
        self._alarm(
            "AuroraCapacity",
            db.metric("ACUUtilization", statistic="Average"),
            AURORA_ACU_PERCENT,
            "Aurora at its maximum capacity",
            periods=3,
        )
        if config.aurora_readers:
            self._alarm(
                "AuroraReplicaLag",
                db.metric("AuroraReplicaLag", statistic="Maximum"),
                AURORA_REPLICA_LAG_MS,
                "readers lag the writer",
                periods=3,
            )
        if data.cache is not None:
            cache = {"ReplicationGroupId": data.cache.ref}
            self._alarm(
                "CacheCpu",
                cw.Metric(
                    namespace="AWS/ElastiCache", metric_name="EngineCPUUtilization", dimensions_map=cache
                ),
                CACHE_CPU_PERCENT,
                "cache engine CPU",
                periods=3,
            )
            self._alarm(
                "CacheEvictions",
                cw.Metric(
                    namespace="AWS/ElastiCache",
                    metric_name="Evictions",
                    dimensions_map=cache,
                    statistic="Sum",
                ),
                0,
                "the cache is too small for its working set",
                periods=3,
            )
        cw.Dashboard(
            self,
            "Dashboard",
            dashboard_name=f"{config.name}-{self.region}",
            widgets=[
                [
                    cw.GraphWidget(title="API requests and 5xx", left=[requests], right=[errors]),
                    cw.GraphWidget(title="API p99 latency (ms)", left=[latency]),
                ],
                [
                    cw.GraphWidget(
                        title="Aurora CPU / capacity",
                        left=[db.metric_cpu_utilization()],
                        right=[db.metric("ACUUtilization")],
                    ),
                    cw.GraphWidget(
                        title="Dead-letter queues",
                        left=[
                            q.metric_approximate_number_of_messages_visible()
                            for q in messaging.dead_letter_queues
                        ],
                    ),
                ],
                [cw.AlarmStatusWidget(title="Alarms", alarms=self.alarms, width=24)],
            ],
        )
        xray.CfnSamplingRule(
            self,
            "Sampling",
            sampling_rule=xray.CfnSamplingRule.SamplingRuleProperty(
                rule_name=f"{config.name}-api"[:32],
                priority=100,
                # One trace a second per service, then 5% of the rest: enough to see a slow path.
                reservoir_size=1,
                fixed_rate=0.05,
                service_name="*",
                service_type="*",
                host="*",
                http_method="*",
                url_path="*",
                resource_arn="*",
                version=1,
            ),
        )

    def _app_alarms(self) -> None:
        """On the kit's own metrics (libs/metrics/names.py), as the ADOT collector's EMF
        exporter writes them: namespace Hisaab, dimensions as k8s/observability declares.
        These series are reported every export even when all is well (age and lag 0), so
        a silent relay or consumer is missing data, and missing data is an alarm."""
        self._alarm(
            "OutboxOldestAge",
            _app_metric(names.OUTBOX_OLDEST_AGE, {names.SERVICE: names.OUTBOX_RELAY}),
            OUTBOX_AGE_SECONDS,
            "the oldest unpublished outbox event waited over 5 minutes (or the relay reports nothing)",
            periods=3,
            missing=cw.TreatMissingData.BREACHING,
        )
        for process, queue in names.QUEUE_CONSUMERS:
            self._alarm(
                f"QueueLag-{queue}",
                _app_metric(names.QUEUE_LAG, {names.SERVICE: process, names.QUEUE: queue}),
                QUEUE_LAG_SECONDS,
                f"messages of the {queue} queue waited over 5 minutes for {process} (or it reports nothing)",
                periods=3,
                missing=cw.TreatMissingData.BREACHING,
            )

    def _alarm(
        self,
        name: str,
        metric: cw.IMetric,
        threshold: float,
        what: str,
        *,
        periods: int = 1,
        missing: cw.TreatMissingData = cw.TreatMissingData.NOT_BREACHING,
    ) -> None:
        alarm = cw.Alarm(
            self,
            name,
            metric=metric,
            threshold=threshold,
            evaluation_periods=periods,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=missing,
            alarm_description=what,
        )
        alarm.add_alarm_action(actions.SnsAction(self.alarm_topic))
        self.alarms.append(alarm)


def _app_metric(name: str, dimensions: dict[str, str]) -> cw.Metric:
    return cw.Metric(
        namespace=names.NAMESPACE,
        metric_name=name,
        dimensions_map=dimensions,
        statistic="Maximum",
        period=Duration.minutes(1),
    )


def _cloudwatch_principal() -> iam.ServicePrincipal:
    return iam.ServicePrincipal("cloudwatch.amazonaws.com")
