"""cdk-nag suppressions, each with the reason it does not apply here."""

from __future__ import annotations

from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import IConstruct


def suppress(construct: IConstruct, reasons: dict[str, str], *, children: bool = True) -> None:
    """Acknowledge AwsSolutions rules on ``construct`` (and its children): rule id -> why."""
    NagSuppressions.add_resource_suppressions(
        construct,
        [NagPackSuppression(id=rule, reason=reason) for rule, reason in reasons.items()],
        apply_to_children=children,
    )


AWS_MANAGED_POLICY = (
    "AWS-managed policies are the ones AWS documents for this role (EKS cluster/node, "
    "API Gateway logging); AWS keeps them current with the service."
)
