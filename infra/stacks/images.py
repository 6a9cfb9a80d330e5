"""ECR repositories for the images the Dockerfile builds (docs/deploy.md pushes to them)."""

from __future__ import annotations

from aws_cdk import CfnOutput, RemovalPolicy, Stack
from aws_cdk import aws_ecr as ecr
from constructs import Construct

from infra.config import EnvConfig
from libs.catalog import SERVICES

IMAGES = (*(f"hisaab-{s.name}" for s in SERVICES), "hisaab-migrate", "hisaab-envoy")
# Tags are git commits; keep enough to roll back a few releases.
KEEP_IMAGES = 30


class ImagesStack(Stack):
    def __init__(self, scope: Construct, cid: str, *, config: EnvConfig, **kwargs: object) -> None:
        super().__init__(scope, cid, **kwargs)  # type: ignore[arg-type]
        for name in IMAGES:
            ecr.Repository(
                self,
                name,
                repository_name=name,
                image_scan_on_push=True,
                image_tag_mutability=ecr.TagMutability.IMMUTABLE,
                encryption=ecr.RepositoryEncryption.KMS,
                lifecycle_rules=[ecr.LifecycleRule(max_image_count=KEEP_IMAGES)],
                removal_policy=RemovalPolicy.RETAIN if config.production else RemovalPolicy.DESTROY,
                empty_on_delete=False,
            )
        CfnOutput(self, "Registry", value=f"{self.account}.dkr.ecr.{self.region}.{self.url_suffix}")
