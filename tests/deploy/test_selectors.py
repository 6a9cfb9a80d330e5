"""Deployment selectors are immutable: a changed selector makes `helm upgrade` fail.

Two checks. The snapshot (selectors.snapshot.yaml, committed) is the durable
contract: it exists from the first release on, and editing it is a visible,
reviewable act. When the chart already exists at git HEAD, that committed
chart is rendered too, so a change in the working tree is compared against
what is actually released, not only against the snapshot.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
from pathlib import Path

import yaml

from tests.deploy.helm_render import CHART, ROOT, Manifest, of_kind, parse, render, render_chart

SNAPSHOT = Path(__file__).with_name("selectors.snapshot.yaml")


def selectors(docs: list[Manifest]) -> dict[str, dict[str, str]]:
    return {name: d["spec"]["selector"]["matchLabels"] for name, d in of_kind(docs, "Deployment").items()}


def test_selectors_match_the_snapshot() -> None:
    assert selectors(render("defaults")) == yaml.safe_load(SNAPSHOT.read_text())


def test_selectors_hold_only_stable_labels() -> None:
    for labels in selectors(render("prod")).values():
        assert set(labels) == {
            "app.kubernetes.io/name",
            "app.kubernetes.io/instance",
            "app.kubernetes.io/component",
        }


def _chart_at_head(destination: Path) -> Path | None:
    relative = CHART.relative_to(ROOT).as_posix()
    listed = subprocess.run(
        ["git", "-C", str(ROOT), "ls-tree", "-d", "HEAD", relative],
        capture_output=True,
        text=True,
        check=False,
    )
    if listed.returncode != 0 or not listed.stdout.strip():
        return None
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", "HEAD", relative], capture_output=True, check=True
    )
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(destination, filter="data")
    chart = destination / relative
    # The descriptor and OpenAPI copies are generated, never committed.
    for generated in ("descriptor.pb", "openapi.json"):
        shutil.copyfile(CHART / "files" / generated, chart / "files" / generated)
    return chart


def test_selectors_match_the_chart_at_git_head(tmp_path: Path) -> None:
    chart = _chart_at_head(tmp_path)
    if chart is None:
        # First release: nothing is deployed yet, the snapshot is the only reference.
        assert SNAPSHOT.is_file()
        return
    before = selectors(parse(render_chart(chart, {})))
    now = selectors(render("defaults"))
    for name in before.keys() & now.keys():
        assert now[name] == before[name], name
