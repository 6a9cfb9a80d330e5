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
