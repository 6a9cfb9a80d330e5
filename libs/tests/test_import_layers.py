"""Imports only point down the layers that docs/architecture.md describes, and only a
service's repositories (and its composition roots) reach storage.

kit (libs/*, libs/auth, libs/db, libs/rpc) < ledger (libs/ledger) < clients of other
services (libs/clients) < workers (libs/jobs) < services < tools. A service never
imports another service. Tests may import anything: they stand outside the layers.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ("kit", "ledger", "clients", "workers", "services", "tools")


def layer(module: str) -> str | None:
    """The layer of a first-party module; None for everything else (stdlib, gen/, PyPI)."""
    parts = module.split(".")
    if parts[0] == "tools":
        return "tools"
    if parts[0] == "services":
        return "services"
    if parts[0] != "libs":
        return None
    sub = parts[1] if len(parts) > 1 else ""
    return {"ledger": "ledger", "clients": "clients", "jobs": "workers"}.get(sub, "kit")


def module_of(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def violations(module: str, imported: set[str]) -> list[str]:
    mine = layer(module)
    assert mine is not None
    out = []
    for target in sorted(imported):
        theirs = layer(target)
        if theirs is None:
            continue
        if LAYERS.index(theirs) > LAYERS.index(mine):
            out.append(f"{module} ({mine}) imports {target} ({theirs})")
        elif mine == theirs == "services" and target.split(".")[1] != module.split(".")[1]:
            out.append(f"{module} imports another service: {target}")
    return out


def _in_tests(path: Path) -> bool:
    return "tests" in path.relative_to(ROOT).parts


def test_imports_point_down() -> None:
    found = []
    for top in ("libs", "services", "tools"):
        for path in sorted((ROOT / top).rglob("*.py")):
            if not _in_tests(path):
                found += violations(module_of(path), imports(path))
    assert found == []


def test_the_rule_catches_an_upward_import_and_a_sibling_service() -> None:
    assert violations("libs.errors", {"libs.clients.rosters"}) != []
    assert violations("libs.clients.rosters", {"libs.jobs.runtime"}) != []
    assert violations("services.group.peers", {"services.expense.codec"}) != []
    assert violations("services.group.peers", {"libs.clients.users", "services.group.ports", "grpc"}) == []


# What only a service's SQL adapters (repository modules) and its composition root may
# import: everything else reaches storage through the unit-of-work port.
STORAGE = ("sqlalchemy", "psycopg", "libs.db.database", "libs.db.batch", "libs.ledger.store")


def _is_repository(module: str) -> bool:
    return module.rsplit(".", 1)[-1].endswith("repository")


def storage_violations(module: str, imported: set[str]) -> list[str]:
    last = module.rsplit(".", 1)[-1]
    # app and worker modules are composition roots: they build the database the rest is given
    if _is_repository(module) or last in ("app", "worker") or ".migrations" in module:
        return []
    out = [
        f"{module} imports {target}"
        for target in sorted(imported)
        if any(target == s or target.startswith(f"{s}.") for s in STORAGE)
        or (target.startswith("services.") and _is_repository(target))
    ]
    return out


def test_only_repositories_touch_storage() -> None:
    found = []
    for path in sorted((ROOT / "services").rglob("*.py")):
        if not _in_tests(path):
            found += storage_violations(module_of(path), imports(path))
    assert found == []


def test_the_storage_rule_catches_a_use_case_with_sql() -> None:
    assert storage_violations("services.group.usecases", {"sqlalchemy.ext.asyncio"}) != []
    assert storage_violations("services.group.usecases", {"services.group.repository"}) != []
    assert storage_violations("services.group.repository", {"sqlalchemy", "libs.db.batch"}) == []
    assert storage_violations("services.group.app", {"services.group.repository", "libs.db.database"}) == []
