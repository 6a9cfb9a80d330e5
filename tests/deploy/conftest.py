from __future__ import annotations

import pytest

from tests.deploy.helm_render import CHART


@pytest.fixture(scope="session", autouse=True)
def generated_chart_files() -> None:
    """The gateway ConfigMap needs the generated Envoy config and the descriptor and OpenAPI copies."""
    generated = [CHART / "files" / name for name in ("envoy.yaml", "descriptor.pb", "openapi.json")]
    missing = [p.name for p in generated if not p.is_file()]
    if missing:
        pytest.fail(f"charts/hisaab/files/{', '.join(missing)} missing: run `make gen` (tools.chartgen)")
