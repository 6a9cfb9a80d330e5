"""The capacity figure: the operating point, the pods it implies and the file `make cost` reads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tools.bench import capacity_bench


def _step(clients: int, rps: float, p99: float, per_core: float, errors: int = 0) -> dict[str, Any]:
    return {"clients": clients, "rps": rps, "p99_ms": p99, "rps_per_service_core": per_core,
            "errors": errors, "service_cores": rps / per_core, "envoy_cores": 0.1}  # fmt: skip


def test_the_operating_point_is_the_busiest_step_within_the_p99_limit() -> None:
    steps = [_step(1, 50, 20, 100), _step(4, 180, 60, 150), _step(8, 200, 140, 160)]
    point, within = capacity_bench.operating_point(steps)
    assert (point["clients"], within) == (4, True)


def test_without_a_step_within_the_limit_the_point_says_so() -> None:
    steps = [_step(1, 50, 300, 100), _step(8, 90, 900, 120), _step(16, 95, 1500, 110, errors=3)]
    point, within = capacity_bench.operating_point(steps)
    assert (point["clients"], within) == (8, False)


def test_pods_follow_the_written_assumptions() -> None:
    sizing = capacity_bench.pods_per_dau(100.0, dau=100_000)
    average = 100_000 * capacity_bench.REQUESTS_PER_ACTIVE_DAY / 86_400
    assert sizing["average_rps"] == average
    assert sizing["peak_rps"] == average * capacity_bench.PEAK_TO_AVERAGE
    assert sizing["pods"] >= sizing["peak_rps"] / 100.0 / capacity_bench.TARGET_UTILIZATION
    assert capacity_bench.pods_per_dau(200.0)["pods"] <= sizing["pods"]


def test_the_capacity_file_holds_the_figure_per_vcpu(tmp_path: Path) -> None:
    point = _step(4, 180, 60, 150)
    results = {"point": point, "within_limit": True, "load_average": 1.0}
    path = tmp_path / "capacity.json"
    capacity_bench.write_capacity(results, "test machine", path)
    written = json.loads(path.read_text())
    assert written["requests_per_second_per_service_core"] == 150
    assert written["requests_per_second_per_vcpu"] == round(180 / (180 / 150 + 0.1), 1)
    assert written["within_p99_limit"] is True
