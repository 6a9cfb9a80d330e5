"""cdk-nag AwsSolutions: no finding without a written acknowledgement, in any environment or phase."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Annotations, Match

from tests.infra.conftest import CASES, Synthesized


@pytest.mark.parametrize(("env", "phase"), CASES)
def test_no_unacknowledged_aws_solutions_findings(
    synthesized: dict[tuple[str, int], Synthesized], env: str, phase: int
) -> None:
    findings = []
    for stack in synthesized[(env, phase)].deployment.stacks:
        for message in Annotations.from_stack(stack).find_error(
            "*", Match.string_like_regexp("AwsSolutions-.*")
        ):
            findings.append(f"{message.id}: {str(message.entry.data)[:160]}")
    assert findings == []


def test_the_optional_settings_add_no_findings_either() -> None:
    import dataclasses

    from infra import config
    from infra.app import build, new_app

    cfg = dataclasses.replace(
        config.load("prod", 3),
        domain="api.example.in",
        hosted_zone_id="Z0EXAMPLE",
        hosted_zone_name="example.in",
        admin_cidrs=("203.0.113.0/24",),
        admin_role_arns=("arn:aws:iam::000000000000:role/Admin",),
        alarm_email="oncall@example.in",
    )
    app = new_app()
    deployment = build(app, cfg)
    app.synth()
    findings = [
        m.id
        for stack in deployment.stacks
        for m in Annotations.from_stack(stack).find_error("*", Match.string_like_regexp("AwsSolutions-.*"))
    ]
    assert findings == []
