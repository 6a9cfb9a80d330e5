"""Generates Python messages, gRPC stubs, type stubs and the Envoy descriptor set.

Everything generated lands in ``gen/`` (git-ignored) and nowhere else:

    gen/hisaab/<domain>/v1/*_pb2.py, *_pb2_grpc.py, *.pyi
    gen/hisaab.pb          descriptor set (with imports and source info) for Envoy
    gen/STAMP              hash of the inputs, so stale output is detected

Run ``python -m tools.codegen`` (``make gen``); ``--check`` regenerates into a
temporary directory and fails if it differs from ``gen/``.
"""

from __future__ import annotations

import argparse
import filecmp
import hashlib
import os
import shutil
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path

import grpc_tools
from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "protos"
GEN = ROOT / "gen"
DESCRIPTOR_NAME = "hisaab.pb"
# Error details are not imported by our protos but Envoy must know them to
# render google.rpc.Status details as JSON.
EXTRA_DESCRIPTOR_INPUTS = ("google/rpc/error_details.proto", "google/rpc/status.proto")


def _include_dirs() -> list[Path]:
    # googleapis-common-protos ships the .proto files beside its modules.
    from google.api import annotations_pb2

    googleapis = Path(annotations_pb2.__file__).resolve().parent.parent.parent
    well_known = Path(grpc_tools.__file__).resolve().parent / "_proto"
    return [PROTO_ROOT, googleapis, well_known]


def proto_files() -> list[str]:
    return sorted(str(p.relative_to(PROTO_ROOT)) for p in PROTO_ROOT.rglob("*.proto"))


def input_hash() -> str:
    digest = hashlib.sha256()
    for rel in proto_files():
        digest.update(rel.encode())
        digest.update((PROTO_ROOT / rel).read_bytes())
    for dist in ("grpcio-tools", "mypy-protobuf", "googleapis-common-protos", "protobuf"):
        digest.update(f"{dist}={version(dist)}".encode())
    return digest.hexdigest()


def _bin_dir() -> str:
    # protoc plugins (protoc-gen-mypy*) live beside the interpreter in the venv.
    return str(Path(sys.executable).parent)


def _run_protoc(args: list[str]) -> None:
    env_path = os.environ.get("PATH", "")
    os.environ["PATH"] = _bin_dir() + os.pathsep + env_path
    try:
        code = protoc.main(["protoc", *args])
    finally:
        os.environ["PATH"] = env_path
    if code != 0:
        raise SystemExit(f"protoc failed ({code}) for: {' '.join(args[-3:])}")


def generate(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    includes = [f"-I{d}" for d in _include_dirs()]
    files = proto_files()
    _run_protoc(
        [
            *includes,
            f"--python_out={out}",
            f"--grpc_python_out={out}",
            "--mypy_opt=quiet",
            "--mypy_grpc_opt=quiet",
            f"--mypy_out={out}",
            f"--mypy_grpc_out={out}",
            *files,
        ]
    )
    _run_protoc(
        [
            *includes,
            "--include_imports",
            "--include_source_info",
            f"--descriptor_set_out={out / DESCRIPTOR_NAME}",
            *files,
            *EXTRA_DESCRIPTOR_INPUTS,
        ]
    )
    for pkg_dir in {p.parent for p in out.rglob("*_pb2.py")}:
        d = pkg_dir
        while d != out:
            (d / "__init__.py").touch()
            d = d.parent
    (out / "py.typed").touch()
    (out / "STAMP").write_text(input_hash() + "\n")


def is_fresh() -> bool:
    stamp = GEN / "STAMP"
    return stamp.exists() and stamp.read_text().strip() == input_hash()


def _differences(a: Path, b: Path) -> list[str]:
    cmp = filecmp.dircmp(a, b)
    found: list[str] = []

    def walk(c: filecmp.dircmp[str], prefix: str) -> None:
        found.extend(f"{prefix}{n} (only in one)" for n in c.left_only + c.right_only)
        _, mismatch, errors = filecmp.cmpfiles(c.left, c.right, c.common_files, shallow=False)
        found.extend(f"{prefix}{n} (differs)" for n in mismatch + errors)
        for name, sub in c.subdirs.items():
            if name != "__pycache__":
                walk(sub, f"{prefix}{name}/")

    walk(cmp, "")
    return [f for f in found if "__pycache__" not in f]


def check() -> list[str]:
    """Regenerate into a temp dir; return what differs from gen/ (empty when in sync)."""
    if not GEN.exists():
        return ["gen/ does not exist: run `make gen`"]
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "gen"
        generate(fresh)
        return _differences(fresh, GEN)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if gen/ is out of date")
    parser.add_argument("--if-stale", action="store_true", help="generate only when inputs changed")
    args = parser.parse_args()
    if args.check:
        diffs = check()
        if diffs:
            print("generated code is out of date with protos/:", *diffs, sep="\n  ")
            raise SystemExit(1)
        print("gen/ matches protos/")
        return
    if args.if_stale and is_fresh():
        return
    if GEN.exists():
        shutil.rmtree(GEN)
    generate(GEN)
    print(f"generated {len(proto_files())} protos into {GEN.relative_to(ROOT)}/")


if __name__ == "__main__":
    main()
