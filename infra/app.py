"""The CDK app: every stack of one environment and phase.

    python -m infra.app [--env prod] [--phase 2]    synthesize to infra/cdk.out and list resources

Stacks, by lifetime (a stack is replaced without touching the longer-lived ones):
Images (ECR) and Network (VPC) < Data (Aurora, cache, S3, secrets) < Messaging, Auth < Cluster (EKS)
< Edge (NLB, REST API, WAF) < Observability; phase 3 adds Analytics (Athena) and
the second region's Network, SecondaryDatabase, Cluster and Edge.
"""

from __future__ import annotations

import argparse
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from aws_cdk import App, Aspects, Environment, Stack, Tags
from cdk_nag import AwsSolutionsChecks

from infra import config as config_mod
from infra.config import EnvConfig
from infra.stacks.analytics import AnalyticsStack
from infra.stacks.auth import AuthStack
from infra.stacks.cluster import ClusterStack
from infra.stacks.data import DataStack
from infra.stacks.edge import EdgeStack
from infra.stacks.images import ImagesStack
from infra.stacks.messaging import MessagingStack
from infra.stacks.network import NetworkStack
from infra.stacks.observability import ObservabilityStack
from infra.stacks.secondary import SecondaryDatabaseStack

OUT_DIR = Path(__file__).resolve().parent / "cdk.out"
# Feature flags a new CDK project gets; set here so `python -m infra.app` and `cdk` agree.
CONTEXT = {
    "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": True,
    "@aws-cdk/aws-iam:minimizePolicies": True,
    "@aws-cdk/core:target-partitions": ["aws"],
}


def new_app(outdir: Path | None = None) -> App:
    return App(outdir=str(outdir) if outdir else None, context=CONTEXT)


@dataclass
class Deployment:
    config: EnvConfig
    images: ImagesStack
    network: NetworkStack
    data: DataStack
    messaging: MessagingStack
    auth: AuthStack
    cluster: ClusterStack
    edge: EdgeStack
    observability: ObservabilityStack
    regional: list[Stack] = field(default_factory=list)  # phase 3: analytics and the second region

    @property
    def stacks(self) -> list[Stack]:
        return [
            self.images,
            self.network,
            self.data,
            self.messaging,
            self.auth,
            self.cluster,
            self.edge,
            self.observability,
            *self.regional,
        ]


def build(app: App, config: EnvConfig) -> Deployment:
    """Add every stack of ``config`` to ``app``, with cdk-nag's AwsSolutions checks on all of them."""
    prefix = f"Hisaab-{config.env}"
    home = Environment(account=config.account, region=config.region)
    images = ImagesStack(app, f"{prefix}-Images", config=config, env=home)
    network = NetworkStack(app, f"{prefix}-Network", config=config, cidr=config.vpc_cidr, env=home)
    data = DataStack(app, f"{prefix}-Data", config=config, network=network, env=home)
    messaging = MessagingStack(app, f"{prefix}-Messaging", config=config, env=home)
    auth = AuthStack(app, f"{prefix}-Auth", config=config, key=data.key, env=home)
    cluster = ClusterStack(app, f"{prefix}-Cluster", config=config, network=network, auth=auth, env=home)
    edge = EdgeStack(app, f"{prefix}-Edge", config=config, network=network, cluster=cluster, env=home)
    observability = ObservabilityStack(
        app, f"{prefix}-Observability", config=config, data=data, messaging=messaging, edge=edge, env=home
    )
    deployment = Deployment(config, images, network, data, messaging, auth, cluster, edge, observability)
    if config.multi_region:
        away = Environment(account=config.account, region=config.secondary_region)
        deployment.regional.append(
            AnalyticsStack(app, f"{prefix}-Analytics", config=config, data=data, env=home)
        )
        network2 = NetworkStack(
            app, f"{prefix}-Network-2", config=config, cidr=config.secondary_vpc_cidr, env=away
        )
        database2 = SecondaryDatabaseStack(
            app, f"{prefix}-SecondaryDatabase", config=config, network=network2, env=away
        )
        database2.add_dependency(data)  # the global cluster must exist first
        cluster2 = ClusterStack(app, f"{prefix}-Cluster-2", config=config, network=network2, env=away)
        # Its roles name the primary's resources: those must exist first.
        cluster2.add_dependency(cluster)
        edge2 = EdgeStack(
            app, f"{prefix}-Edge-2", config=config, network=network2, cluster=cluster2, env=away
        )
        deployment.regional += [network2, database2, cluster2, edge2]
    for stack in deployment.stacks:
        Tags.of(stack).add("app", "hisaab")
        Tags.of(stack).add("env", config.env)
        Tags.of(stack).add("phase", str(config.phase))
    Aspects.of(app).add(AwsSolutionsChecks())
    return deployment


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--env", choices=config_mod.ENVIRONMENTS)
    parser.add_argument("--phase", type=int, choices=config_mod.PHASES)
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    args = parser.parse_args()
    app = new_app(args.out)
    # `cdk deploy -c env=prod -c phase=2` passes context; flags and HISAAB_INFRA_* also work.
    env = args.env or app.node.try_get_context("env")
    phase = args.phase or app.node.try_get_context("phase")
    deployment = build(app, config_mod.load(env, int(phase) if phase else None))
    assembly = app.synth()
    for stack in deployment.stacks:
        artifact = assembly.get_stack_artifact(stack.artifact_id)
        kinds = Counter(r["Type"] for r in artifact.template.get("Resources", {}).values())
        print(f"{stack.stack_name} ({stack.region}): {sum(kinds.values())} resources")
        for kind, count in sorted(kinds.items()):
            print(f"  {count:3d}  {kind}")
    print(f"templates in {args.out}")


if __name__ == "__main__":
    main()
