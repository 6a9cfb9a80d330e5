"""Synthesizes every environment x phase once per session; the infra tests read the templates."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from infra import config
from infra.app import Deployment, build, new_app


@dataclass(frozen=True)
class Synthesized:
    deployment: Deployment
    outdir: Path

    def templates(self) -> dict[str, dict]:  # type: ignore[type-arg]
        return {s.stack_name: _template(self.outdir, s.artifact_id) for s in self.deployment.stacks}


def _template(outdir: Path, artifact: str) -> dict:  # type: ignore[type-arg]
    import json

    return json.loads((outdir / f"{artifact}.template.json").read_text())  # type: ignore[no-any-return]


CASES = [(env, phase) for env in config.ENVIRONMENTS for phase in config.PHASES]


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[tuple[str, int], Synthesized]]:
    with pytest.MonkeyPatch.context() as patch:
        # The operator's deployment settings must not change what the tests check.
        for name in [n for n in os.environ if n.startswith(("HISAAB_INFRA_", "CDK_DEFAULT_"))]:
            patch.delenv(name)
        out = {}
        for env, phase in CASES:
            outdir = tmp_path_factory.mktemp(f"cdk-{env}-{phase}")
            app = new_app(outdir)
            deployment = build(app, config.load(env, phase))
            app.synth()
            out[(env, phase)] = Synthesized(deployment, outdir)
        yield out
