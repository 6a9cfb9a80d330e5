"""The AWS emulator answers real boto3 calls for S3 and SQS."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from tools.devstack.aws import REGION, start_aws_emulator


@pytest.fixture(autouse=True)
def _clean_aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ENDPOINT_URL", "AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)


def test_s3_and_sqs_through_boto3(tmp_path: Path) -> None:
    aws = start_aws_emulator(tmp_path)
    try:
        assert aws.endpoint_url.startswith("http://127.0.0.1:")
        assert aws.env["AWS_REGION"] == REGION == "ap-south-1"
        session = boto3.session.Session(
            aws_access_key_id=aws.env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=aws.env["AWS_SECRET_ACCESS_KEY"],
            region_name=aws.env["AWS_REGION"],
        )
        s3 = session.client("s3", endpoint_url=aws.endpoint_url)
        s3.create_bucket(Bucket="receipts", CreateBucketConfiguration={"LocationConstraint": "ap-south-1"})
        s3.put_object(Bucket="receipts", Key="g1/e1.jpg", Body=b"\xff\xd8receipt")
        assert s3.get_object(Bucket="receipts", Key="g1/e1.jpg")["Body"].read() == b"\xff\xd8receipt"

        sqs = session.client("sqs", endpoint_url=aws.endpoint_url)
        queue = sqs.create_queue(QueueName="notifications")["QueueUrl"]
        sqs.send_message(QueueUrl=queue, MessageBody='{"event": "expense.created"}')
        messages = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1)["Messages"]
        assert [m["Body"] for m in messages] == ['{"event": "expense.created"}']
    finally:
        aws.stop()


def test_endpoint_url_is_used_as_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://localstack:4566")

    aws = start_aws_emulator(tmp_path)
    aws.stop()

    assert aws.endpoint_url == "http://localstack:4566"
    assert aws.env["AWS_ENDPOINT_URL"] == "http://localstack:4566"
    assert aws.env["AWS_ACCESS_KEY_ID"] == "test"
