"""Generated code is reproducible from protos/ and its staleness is detected."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tools import codegen


def test_gen_matches_protos() -> None:
    assert codegen.check() == []
    assert codegen.is_fresh()


def test_check_reports_a_disagreement(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy = tmp_path / "gen"
    shutil.copytree(codegen.GEN, copy)
    stub = copy / "hisaab" / "group" / "v1" / "group_pb2.py"
    stub.write_text(stub.read_text() + "\n# edited by hand\n")
    monkeypatch.setattr(codegen, "GEN", copy)
    assert any("group_pb2.py" in d for d in codegen.check())


def test_stamp_tracks_proto_content(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    protos = tmp_path / "protos"
    shutil.copytree(codegen.PROTO_ROOT, protos)
    monkeypatch.setattr(codegen, "PROTO_ROOT", protos)
    before = codegen.input_hash()
    target = protos / "hisaab" / "common" / "v1" / "money.proto"
    target.write_text(target.read_text() + "\n// changed\n")
    assert codegen.input_hash() != before
