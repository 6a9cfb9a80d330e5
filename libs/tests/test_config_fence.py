"""Configuration is read in one place: only libs/settings.py looks at the environment.

Services and workers get their values from ``libs.settings`` (``load`` for a service's
settings, ``env_var`` / ``env_float`` for a process's own knobs), so every variable the
code reads can be found by searching one module's callers.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
READER = ROOT / "libs" / "settings.py"


def reads_environment(source: str) -> bool:
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Attribute)
            and node.attr in {"environ", "getenv"}
            and isinstance(node.value, ast.Name)
            and node.value.id == "os"
        ):
            return True
        if isinstance(node, ast.ImportFrom) and node.module == "os":
            return any(a.name in {"environ", "getenv"} for a in node.names)
    return False


def test_only_settings_reads_the_environment() -> None:
    readers = [
        str(path.relative_to(ROOT))
        for top in ("libs", "services")
        for path in sorted((ROOT / top).rglob("*.py"))
        if path != READER
        and "tests" not in path.relative_to(ROOT).parts
        and reads_environment(path.read_text())
    ]
    assert readers == []


def test_the_fence_sees_both_spellings() -> None:
    assert reads_environment("import os\nx = os.environ.get('A')")
    assert reads_environment("from os import getenv\nx = getenv('A')")
    assert not reads_environment("from libs.settings import env_var\nx = env_var('A')")
