"""Domain events (SNS), the queues that consume them and the job schedules (SQS, Scheduler).

The shapes follow libs/aws.py (what the code relies on) and the schedules are
generated from libs/jobs/schedules.py: one list for AWS and the laptop.
"""

from __future__ import annotations

from aws_cdk import CfnOutput, CfnResource, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_ses as ses
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.config import EnvConfig
from infra.stacks.common import rotating_key
from infra.stacks.nag import suppress
from libs import aws
from libs.jobs.schedules import SCHEDULES, create_schedule_kwargs

MESSAGING_KEY_ALIAS = "{name}/messaging"


class MessagingStack(Stack):
    def __init__(self, scope: Construct, cid: str, *, config: EnvConfig, **kwargs: object) -> None:
        super().__init__(scope, cid, **kwargs)  # type: ignore[arg-type]
        self.key = rotating_key(
            self,
            "MessagingKey",
            "SNS events topic and SQS queues",
            alias=MESSAGING_KEY_ALIAS.format(name=config.name),
        )
        self.events_topic = sns.Topic(
            self, "Events", topic_name=f"{config.name}-events", master_key=self.key, enforce_ssl=True
        )
        self.notification_queue, self.notification_dlq = self._queue_with_dlq(f"{config.name}-notification")
        self.jobs_queue, self.jobs_dlq = self._queue_with_dlq(f"{config.name}-jobs")
        self.scans_queue, self.scans_dlq = self._queue_with_dlq(f"{config.name}-scans")
        self.activity_queue, self.activity_dlq = self._queue_with_dlq(f"{config.name}-activity")
        self.group_queue, self.group_dlq = self._queue_with_dlq(f"{config.name}-group")
        # Raw delivery: the body is the event JSON and SNS attributes arrive as SQS
        # attributes (libs/aws.py). Only domain events (they all carry event_type,
        # libs/events.py) reach the queue; the consumer handles every type it is given.
        self.events_topic.add_subscription(
            subs.SqsSubscription(
                self.notification_queue,
                raw_message_delivery=True,
                filter_policy={"event_type": sns.SubscriptionFilter.exists_filter()},
            )
        )
        # Each worker's queue takes only the events it handles (libs/aws.py does the same
        # locally): the scan worker scan requests; the activity worker the settlement, member
        # and group events the group feed shows; the group worker the profile changes other
        # members see.
        for queue, events in (
            (self.scans_queue, [aws.SCAN_REQUESTED]),
            (self.activity_queue, list(aws.ACTIVITY_EVENTS)),
            (self.group_queue, list(aws.GROUP_EVENTS)),
        ):
            self.events_topic.add_subscription(
                subs.SqsSubscription(
                    queue,
                    raw_message_delivery=True,
                    filter_policy={"event_type": sns.SubscriptionFilter.string_filter(allowlist=events)},
                )
            )
        self.schedule_group = scheduler.CfnScheduleGroup(self, "ScheduleGroup", name=config.name)
        role = iam.Role(
            self,
            "SchedulerRole",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": self.account}}
            ),
            description="EventBridge Scheduler drops job messages on the jobs queue",
        )
        self.jobs_queue.grant_send_messages(role)
        self.jobs_dlq.grant_send_messages(role)
        suppress(
            role,
            {
                "AwsSolutions-IAM5": "The queue grant's KMS actions (GenerateDataKey*, ReEncrypt*) "
                "are on the one messaging key only."
            },
        )
        self.schedules = []
        for schedule in SCHEDULES:
            properties = create_schedule_kwargs(
                schedule,
                queue_arn=self.jobs_queue.queue_arn,
                role_arn=role.role_arn,
                dead_letter_arn=self.jobs_dlq.queue_arn,
                group=config.name,
            )
            resource = CfnResource(
                self, f"Schedule-{schedule.job}", type="AWS::Scheduler::Schedule", properties=properties
            )
            resource.add_resource_dependency(self.schedule_group)
            self.schedules.append(resource)

        if config.email_domain:
            # DKIM records to add at the DNS provider come out as the identity's attributes.
            self.email_identity = ses.EmailIdentity(
                self, "EmailDomain", identity=ses.Identity.domain(config.email_domain)
            )
        for name, value in (
            ("EventsTopicArn", self.events_topic.topic_arn),
            ("NotificationQueueUrl", self.notification_queue.queue_url),
            ("JobsQueueUrl", self.jobs_queue.queue_url),
            ("ScansQueueUrl", self.scans_queue.queue_url),
            ("ActivityQueueUrl", self.activity_queue.queue_url),
            ("GroupQueueUrl", self.group_queue.queue_url),
            ("SchedulerRoleArn", role.role_arn),
        ):
            CfnOutput(self, name, value=value)

    def _queue_with_dlq(self, name: str) -> tuple[sqs.Queue, sqs.Queue]:
        dlq = sqs.Queue(
            self,
            f"{name}-dlq",
            queue_name=f"{name}-dlq",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=self.key,
            enforce_ssl=True,
            retention_period=Duration.seconds(aws.DLQ_RETENTION_SECONDS),
        )
        queue = sqs.Queue(
            self,
            name,
            queue_name=name,
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=self.key,
            enforce_ssl=True,
            visibility_timeout=Duration.seconds(aws.VISIBILITY_TIMEOUT_SECONDS),
            receive_message_wait_time=Duration.seconds(20),
            dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=aws.MAX_RECEIVES, queue=dlq),
        )
        return queue, dlq

    @property
    def dead_letter_queues(self) -> tuple[sqs.Queue, ...]:
        return (self.notification_dlq, self.jobs_dlq, self.scans_dlq, self.activity_dlq, self.group_dlq)
