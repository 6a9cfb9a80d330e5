"""buf checks the contract: lint with the project's API rules, and no breaking change against the
frozen baseline (what installed apps and running services were built against)."""

from __future__ import annotations

from pathlib import Path

from google.protobuf import descriptor_pb2

from tools import buf


def _edited(tmp_path: Path, file_suffix: str, edit: str) -> Path:
    fds = descriptor_pb2.FileDescriptorSet.FromString(buf.DESCRIPTORS.read_bytes())
    target = next(f for f in fds.file if f.name.endswith(file_suffix))
    if edit == "drop-field":
        expense = next(m for m in target.message_type if m.name == "Expense")
        kept = [f for f in expense.field if f.name != "description"]
        del expense.field[:]
        expense.field.extend(kept)
    else:  # an enum whose zero value is not *_UNSPECIFIED
        target.enum_type.add(
            name="Mood", value=[descriptor_pb2.EnumValueDescriptorProto(name="HAPPY", number=0)]
        )
    path = tmp_path / "edited.binpb"
    path.write_bytes(fds.SerializeToString())
    return path


def test_the_contract_passes_lint() -> None:
    result = buf.lint()
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_contract_keeps_every_promise_of_the_baseline() -> None:
    result = buf.breaking()
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_removed_field_is_a_breaking_change(tmp_path: Path) -> None:
    result = buf.breaking(_edited(tmp_path, "expense/v1/expense.proto", "drop-field"))
    assert result.returncode != 0 and "description" in result.stdout, result.stdout + result.stderr


def test_lint_catches_a_rule_break(tmp_path: Path) -> None:
    result = buf.lint(_edited(tmp_path, "expense/v1/expense.proto", "bad-enum"))
    assert result.returncode != 0 and "UNSPECIFIED" in result.stdout, result.stdout + result.stderr
