"""The monthly AWS bill of a deployment, from its synthesized templates and written usage.

``inventory()`` counts what the templates create (clusters, nodes, NAT gateways,
Aurora instances, cache nodes, WAF rules, keys, secrets, alarms...);
``monthly_bill()`` prices that inventory plus the traffic ``usage.yaml``
expects of a number of monthly active users, with ``prices.yaml``. Fixed
resources cost what they cost; capacity that scales (Aurora ACUs, nodes)
follows the request rate, never below the configured minimum.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
SIZES = (10_000, 100_000, 1_000_000)
SECONDS_PER_MONTH = 30 * 24 * 3600
# Written by `make bench` (tools/bench/capacity_bench.py): requests per second per vCPU measured.
CAPACITY_FILE = HERE / "capacity.json"

Template = Mapping[str, Any]


def load_prices(path: Path = HERE / "prices.yaml") -> dict[str, Any]:
    return yaml.safe_load(path.read_text())  # type: ignore[no-any-return]


def load_usage(path: Path = HERE / "usage.yaml", capacity: Path = CAPACITY_FILE) -> dict[str, float]:
    """The written assumptions; what one vCPU serves comes from ``make bench`` once it was
    measured (``capacity.json``), else from the assumption in ``usage.yaml``."""
    usage: dict[str, float] = yaml.safe_load(path.read_text())
    if capacity.exists():
        measured = json.loads(capacity.read_text()).get("requests_per_second_per_vcpu")
        if measured:
            usage["requests_per_second_per_vcpu"] = float(measured)
    return usage


@dataclass(frozen=True)
class Inventory:
    regions: int
    eks_clusters: int
    node_types: tuple[str, ...]  # first instance type of each node group
    node_minimum: int  # summed over node groups
    spot: bool
    nat_gateways: int
    nlbs: int
    aurora_instances: int
    aurora_min_acu: float
    cache_node_type: str
    cache_nodes: int
    web_acls: int
    waf_rules: int
    rest_apis: int
    kms_keys: int
    secrets: int
    alarms: int
    dashboards: int
    athena: bool
    global_database: bool


def _of(templates: Iterable[Template], kind: str) -> list[Mapping[str, Any]]:
    return [
        r.get("Properties", {})
        for t in templates
        for r in t.get("Resources", {}).values()
        if r["Type"] == kind
    ]


def inventory(templates: Iterable[Template], regions: int) -> Inventory:
    templates = list(templates)
    groups = _of(templates, "AWS::EKS::Nodegroup")
    clusters = _of(templates, "AWS::RDS::DBCluster")
    caches = _of(templates, "AWS::ElastiCache::ReplicationGroup")
    acls = _of(templates, "AWS::WAFv2::WebACL")
    primary = next((c for c in clusters if "GlobalClusterIdentifier" not in c), {})
    scaling = primary.get("ServerlessV2ScalingConfiguration", {})
    return Inventory(
        regions=regions,
        eks_clusters=len(_of(templates, "AWS::EKS::Cluster")),
        node_types=tuple(g["InstanceTypes"][0] for g in groups),
        node_minimum=sum(int(g["ScalingConfig"]["MinSize"]) for g in groups),
        spot=any(g.get("CapacityType") == "SPOT" for g in groups),
        nat_gateways=len(_of(templates, "AWS::EC2::NatGateway")),
        nlbs=len(_of(templates, "AWS::ElasticLoadBalancingV2::LoadBalancer")),
        aurora_instances=len(_of(templates, "AWS::RDS::DBInstance")),
        aurora_min_acu=float(scaling.get("MinCapacity", 0.5)),
        cache_node_type=caches[0]["CacheNodeType"] if caches else "",
        cache_nodes=sum(int(c["NumNodeGroups"]) * (1 + int(c["ReplicasPerNodeGroup"])) for c in caches),
        web_acls=len(acls),
        waf_rules=sum(len(a["Rules"]) for a in acls),
        rest_apis=len(_of(templates, "AWS::ApiGateway::RestApi")),
        kms_keys=len(_of(templates, "AWS::KMS::Key")),
        secrets=len(_of(templates, "AWS::SecretsManager::Secret")),
        alarms=len(_of(templates, "AWS::CloudWatch::Alarm")),
        dashboards=len(_of(templates, "AWS::CloudWatch::Dashboard")),
        athena=bool(_of(templates, "AWS::Athena::WorkGroup")),
        global_database=bool(_of(templates, "AWS::RDS::GlobalCluster")),
    )


def monthly_bill(
    inv: Inventory, mau: int, prices: Mapping[str, Any], usage: Mapping[str, float]
) -> dict[str, float]:
    """USD per month, by line item."""
    p = prices["prices"]
    hours = float(prices["hours_per_month"])
    requests = mau * usage["daily_active_share"] * usage["requests_per_active_day"] * 30
    average_rps = requests / SECONDS_PER_MONTH
    peak_rps = average_rps * usage["peak_to_average"]
    bill: dict[str, float] = {}

    # Compute: the node group's minimum, or what the average load needs (peaks ride the HPA and autoscaler).
    node_price = p["ec2_hour"][inv.node_types[0]] * (1 - p["spot_discount"] if inv.spot else 1)
    needed = math.ceil(average_rps * 1.5 / usage["requests_per_second_per_vcpu"] / usage["vcpus_per_node"])
    nodes = max(inv.node_minimum, needed)
    bill["EKS control plane"] = inv.eks_clusters * p["eks_cluster_hour"] * hours
    bill["EC2 nodes (Graviton)"] = nodes * node_price * hours
    bill["NAT gateways"] = inv.nat_gateways * (p["nat_gateway_hour"] + p["public_ipv4_hour"]) * hours
    # Egress through NAT: Cognito, SNS, SES, ECR pulls; S3 goes through the free gateway endpoint.
    bill["NAT data processed"] = requests * 2 / 1e6 * p["nat_gateway_gb"]
    bill["NLB"] = inv.nlbs * (p["nlb_hour"] + p["nlb_lcu_hour"] * max(1.0, peak_rps / 800)) * hours

    # Aurora Serverless v2: the writer follows load; readers scale with it (phase >= 2).
    acu = max(inv.aurora_min_acu, average_rps / usage["requests_per_second_per_acu"])
    readers = max(inv.aurora_instances - inv.regions, 0)
    acu_hours = (acu * inv.regions + readers * max(0.5, acu * 0.5)) * hours
    storage_gb = max(10.0, mau * usage["db_gb_per_user"])
    bill["Aurora capacity (ACU)"] = acu_hours * p["aurora_acu_hour"]
    bill["Aurora storage and I/O"] = (
        storage_gb * inv.regions * p["aurora_storage_gb_month"] + requests * 3 / 1e6 * p["aurora_io_million"]
    )
    if inv.global_database:
        bill["Aurora global replication"] = (
            requests * 0.3 / 1e6 * p["aurora_global_replicated_write_million"]
            + requests * 0.3 * 2 / 1e6 * p["cross_region_transfer_gb"]
        )
    if inv.cache_nodes:
        bill["ElastiCache (Valkey)"] = inv.cache_nodes * p["cache_node_hour"][inv.cache_node_type] * hours

    bill["API Gateway (REST)"] = requests / 1e6 * p["api_gateway_rest_million"]
    bill["WAF"] = (
        inv.web_acls * p["waf_web_acl_month"]
        + inv.waf_rules * p["waf_rule_month"]
        + requests / 1e6 * p["waf_request_million"]
    )
    sign_ins = mau * usage["sign_ins_per_month"]
    bill["Cognito (Essentials)"] = max(0, mau - p["cognito_free_mau"]) * p["cognito_essentials_mau"]
    bill["SMS (OTP and notifications)"] = (
        sign_ins * usage["sms_share_of_sign_ins"] + mau * usage["sms_notifications_per_month"]
    ) * p["sms_india_message"]
    bill["SES email"] = (
        (sign_ins * (1 - usage["sms_share_of_sign_ins"]) + mau * usage["emails_per_month"])
        / 1000
        * p["ses_email_thousand"]
    )
    events = requests * usage["events_per_request"]
    bill["SNS and SQS"] = (
        events / 1e6 * (p["sns_publish_million"] + 3 * p["sqs_request_million"])
        + mau * usage["push_per_month"] / 1e6 * p["sns_mobile_push_million"]
    )
    receipts = mau * usage["receipts_per_month"]
    bill["S3"] = (
        receipts * usage["months_of_receipts_kept"] * usage["receipt_mb"] / 1024 * p["s3_storage_gb_month"]
        + (receipts + mau * usage["exports_per_month"]) / 1000 * p["s3_put_thousand"]
        + receipts * 3 / 1000 * p["s3_get_thousand"]
    )
    bill["Data transfer out"] = requests * usage["response_kb"] / 1024 / 1024 * p["data_transfer_out_gb"]
    log_gb = requests * usage["log_kb_per_request"] / 1024 / 1024
    bill["CloudWatch logs"] = log_gb * (
        p["cloudwatch_logs_ingest_gb"] + p["cloudwatch_logs_storage_gb_month"]
    )
    bill["CloudWatch alarms and dashboards"] = (
        inv.alarms * p["cloudwatch_alarm_month"] + inv.dashboards * p["cloudwatch_dashboard_month"]
    )
    bill["X-Ray"] = max(0.0, requests * usage["trace_sample_rate"] - 100_000) / 1e6 * p["xray_trace_million"]
    bill["KMS and Secrets Manager"] = inv.kms_keys * p["kms_key_month"] + inv.secrets * p["secret_month"]
    bill["ECR"] = 8 * 0.3 * 10 * p["ecr_storage_gb_month"]  # 8 images x ~300 MB x 10 kept versions
    if inv.athena:
        bill["Athena"] = 30 * 1e-6 * p["athena_tb_scanned"]  # a query a day over kilobytes
    return {k: round(v, 2) for k, v in bill.items()}


def synthesize(env: str, phase: int) -> tuple[list[Template], int]:
    """The templates of ``env`` at ``phase`` and how many regions they span."""
    import json
    import tempfile

    from infra import config
    from infra.app import build, new_app

    with tempfile.TemporaryDirectory() as out:
        app = new_app(Path(out))
        deployment = build(app, config.load(env, phase))
        app.synth()
        templates = [
            json.loads((Path(out) / f"{s.artifact_id}.template.json").read_text()) for s in deployment.stacks
        ]
    return templates, len({s.region for s in deployment.stacks})


def report(env: str = "prod") -> str:
    prices, usage = load_prices(), load_usage()
    source = f"measured, {CAPACITY_FILE.name}" if CAPACITY_FILE.exists() else "assumed, usage.yaml"
    lines = [
        f"Monthly AWS bill, {env}, {prices['region']} list prices as of {prices['as_of']} (USD)",
        f"Nodes sized at {usage['requests_per_second_per_vcpu']:g} requests/s per vCPU ({source})",
        "",
    ]
    header = f"{'':34}" + "".join(f"{f'{mau:,} MAU':>14}" for mau in SIZES)
    for phase in (1, 2, 3):
        templates, regions = synthesize(env, phase)
        inv = inventory(templates, regions)
        bills = [monthly_bill(inv, mau, prices, usage) for mau in SIZES]
        lines += [f"Phase {phase}", header]
        for item in bills[0]:
            lines.append(f"  {item:32}" + "".join(f"{b[item]:>14,.2f}" for b in bills))
        lines.append(f"  {'TOTAL':32}" + "".join(f"{sum(b.values()):>14,.2f}" for b in bills))
        lines.append(
            f"  {'per MAU':32}"
            + "".join(f"{sum(b.values()) / m:>14,.4f}" for b, m in zip(bills, SIZES, strict=True))
        )
        lines.append("")
    return "\n".join(lines)
