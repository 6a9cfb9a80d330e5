"""Finds the boto3 calls a workload's code makes, by reading its source.

Starting from a workload's entry module, imports inside the repository are
followed (libs/, services/), and in every module reached these count as calls:

- ``<client>.<method>`` where the receiver is named after a boto3 client
  (``s3``, ``self._sqs``...) and the method is one of that service's
  operations or pre-signing helpers (a reference passed to
  ``asyncio.to_thread`` counts as much as a direct call);
- ``self._call("<operation>", ...)``: the Cognito provider's one dispatcher,
  whose operation names are Cognito's.

Functions that only build the AWS emulator's resources (``EMULATOR_ONLY``)
are skipped: in AWS the stacks create those resources.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from pathlib import Path

import botocore.session

ROOT = Path(__file__).resolve().parent.parent
_PACKAGES = ("libs", "services")
_CLIENT_NAMES = {"s3": "s3", "sqs": "sqs", "sns": "sns", "ses": "ses", "textract": "textract"}
_PRESIGN = frozenset({"generate_presigned_url", "generate_presigned_post"})
_DISPATCH = ("_call", "cognito-idp")
EMULATOR_ONLY = frozenset(
    {
        "libs.aws.bootstrap",
        "libs.aws._queue_with_dlq",
        "libs.aws._queue_arn",
        "libs.aws._allow_topic",
        "libs.aws._subscribed_queue",
        "libs.aws.dlq_url",
    }
)


@functools.cache
def operations(service: str) -> frozenset[str]:
    """boto3 method names of ``service``'s API operations."""
    model = botocore.session.get_session().get_service_model(service)
    return frozenset(botocore.xform_name(name) for name in model.operation_names)


def _module_path(name: str) -> Path | None:
    base = ROOT.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(module: str, tree: ast.Module) -> Iterator[str]:
    package = module.rsplit(".", 1)[0] if not module.endswith("__init__") else module
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base]) if base else ".".join(parts)
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def reachable(entries: tuple[str, ...]) -> dict[str, ast.Module]:
    """module name -> parsed source, for every repository module the entries import (transitively)."""
    seen: dict[str, ast.Module] = {}
    todo = list(entries)
    while todo:
        name = todo.pop()
        if name in seen or not name.startswith(_PACKAGES):
            continue
        path = _module_path(name)
        if path is None or "tests" in path.relative_to(ROOT).parts:
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        seen[name] = tree
        todo.extend(_imports(name, tree))
        # Importing a.b.c runs a/__init__ and a/b/__init__ too.
        parts = name.split(".")
        todo.extend(".".join(parts[:i]) for i in range(1, len(parts)))
    return seen


def _receiver_service(node: ast.expr) -> str | None:
    name = node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else ""
    return _CLIENT_NAMES.get(name.lstrip("_"))


class _Finder(ast.NodeVisitor):
    def __init__(self, module: str) -> None:
        self.scope = [module]
        self.found: set[tuple[str, str]] = set()

    def _visit_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        qualified = ".".join([*self.scope, node.name])
        if qualified in EMULATOR_ONLY:
            return
        self.scope.append(node.name)
        self.generic_visit(node)
        self.scope.pop()

    visit_FunctionDef = _visit_function
    visit_AsyncFunctionDef = _visit_function

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.scope.append(node.name)
        self.generic_visit(node)
        self.scope.pop()

    def visit_Attribute(self, node: ast.Attribute) -> None:
        service = _receiver_service(node.value)
        if service and (node.attr in operations(service) or node.attr in _PRESIGN):
            self.found.add((service, node.attr))
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        method, service = _DISPATCH
        func = node.func
        if (
            isinstance(func, ast.Attribute)
            and func.attr == method
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and node.args[0].value in operations(service)
        ):
            self.found.add((service, str(node.args[0].value)))
        self.generic_visit(node)


def calls(entries: tuple[str, ...]) -> frozenset[tuple[str, str]]:
    """(boto3 client, method) pairs the code reachable from ``entries`` uses."""
    found: set[tuple[str, str]] = set()
    for module, tree in reachable(entries).items():
        finder = _Finder(module)
        finder.visit(tree)
        found |= finder.found
    return frozenset(found)
