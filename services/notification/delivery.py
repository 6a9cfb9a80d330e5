"""Push and SMS through SNS, email through SES.

Push goes to SNS platform endpoints (FCM for Android, APNs for iOS), one per
device token, created on first use and remembered for the life of the
process (CreatePlatformEndpoint is idempotent for the same token, so a restart
only costs one call per token). Email uses SES SendEmail from a verified
sender: SNS email subscriptions would need every user to confirm a
subscription first, which does not fit per-user transactional mail.
boto3 blocks, so each send runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from libs import aws
from services.notification.ports import Outgoing


class AwsSender:
    def __init__(self, resources: aws.Resources, *, sns: Any | None = None, ses: Any | None = None):
        self._resources = resources
        self._sns = sns or aws.client("sns")
        self._ses = ses or aws.client("ses")
        self._endpoints: dict[str, str] = {}

    async def send(self, message: Outgoing) -> str:
        return await asyncio.to_thread(self._send, message)

    def _send(self, message: Outgoing) -> str:
        if message.channel == "PUSH":
            return self._push(message)
        if message.channel == "SMS":
            answer = self._sns.publish(
                PhoneNumber=message.target,
                Message=f"{message.title}: {message.body}",
                MessageAttributes={
                    "AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}
                },
            )
            return str(answer["MessageId"])
        if message.channel == "EMAIL":
            self._resources.require("email_sender")
            answer = self._ses.send_email(
                Source=self._resources.email_sender,
                Destination={"ToAddresses": [message.target]},
                Message={
                    "Subject": {"Data": message.title, "Charset": "UTF-8"},
                    "Body": {
                        "Text": {"Data": f"{message.body}\n\n{message.deep_link}".strip(), "Charset": "UTF-8"}
                    },
                },
            )
            return str(answer["MessageId"])
        raise ValueError(f"unknown channel {message.channel}")

    def _push(self, message: Outgoing) -> str:
        platform, _, token = message.target.partition(":")
        endpoint = self._endpoints.get(message.target)
        if endpoint is None:
            app = (
                self._resources.push_android_app_arn
                if platform == "ANDROID"
                else self._resources.push_ios_app_arn
            )
            if not app:
                raise RuntimeError(f"no SNS platform application configured for {platform}")
            endpoint = str(
                self._sns.create_platform_endpoint(PlatformApplicationArn=app, Token=token)["EndpointArn"]
            )
            self._endpoints[message.target] = endpoint
        data = {"deep_link": message.deep_link}
        payload = {
            "default": message.body,
            "GCM": json.dumps({"notification": {"title": message.title, "body": message.body}, "data": data}),
            "APNS": json.dumps({"aps": {"alert": {"title": message.title, "body": message.body}}, **data}),
        }
        answer = self._sns.publish(TargetArn=endpoint, Message=json.dumps(payload), MessageStructure="json")
        return str(answer["MessageId"])
