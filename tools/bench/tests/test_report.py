"""docs/benchmarks.md keeps the sections not rerun and replaces those that were."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.bench import report


def test_a_rerun_replaces_every_section_it_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "docs" / "benchmarks.md"
    out.parent.mkdir()
    out.write_text(
        "# Benchmarks\n\n## Creates\n\nold creates\n\n## Reads\n\nold reads\n\n## Scans\n\nold scans\n"
    )
    monkeypatch.setattr(report, "OUT", out)
    monkeypatch.setattr(report, "ROOT", tmp_path)
    # One section function writes two sections, as the ledger benchmark does.
    monkeypatch.setattr(
        report, "SECTIONS", {"ledger": lambda: "## Creates\n\nnew creates\n\n## Reads\n\nnew reads"}
    )
    report.main(["ledger"])
    text = out.read_text()
    assert text.count("## Reads") == 1 and "new reads" in text and "old reads" not in text
    assert "new creates" in text and "old creates" not in text
    assert "old scans" in text  # not rerun: kept
