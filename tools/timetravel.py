"""Runs the date- and time-sensitive tests with the whole stack's clock moved to chosen instants.

``make test`` runs ``python -m tools.timetravel``: for each instant, one pytest run of
the tests marked ``clock``, in a process whose wall clock, and that of every process
it starts (PostgreSQL, Valkey, the AWS emulator, the services, the workers), is moved
by libfaketime (shipped inside the ``libfaketime`` wheel). All of them read one
offset file, so they share one clock; before each marked test the suite moves that
clock back to the instant (``tests/clock.py``), so every such test starts ten
seconds before the boundary it is about and runs across it.

Monotonic clocks are left alone: timeouts and sleeps keep real durations.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

# Ten seconds before the boundaries that business-day rules hang on (IST midnight
# is 18:30 UTC): a month's last day, a leap day, a year's last day.
INSTANTS: tuple[str, ...] = (
    "2027-04-30T18:29:50+00:00",
    "2028-02-29T23:59:50+05:30",
    "2026-12-31T23:59:50+05:30",
)

TARGET_VARIABLE = "HISAAB_TIME_TRAVEL_TO"
# Set by --every-test: every test, marked or not, starts at the instant (to find tests
# that should be marked).
EVERY_TEST_VARIABLE = "HISAAB_TIME_TRAVEL_EVERY_TEST"
OFFSET_FILE_VARIABLE = "FAKETIME_TIMESTAMP_FILE"
# libfaketime re-reads the offset file at most this often (seconds), per process.
CACHE_SECONDS = 1


def library() -> Path:
    import libfaketime

    path = Path(libfaketime.__file__).parent / "vendor" / "libfaketime" / "src" / "libfaketime.so.1"
    if not path.exists():
        raise FileNotFoundError(f"libfaketime's library is missing at {path}")
    return path


def parse_instant(text: str) -> datetime:
    instant = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if instant.tzinfo is None:
        raise ValueError(f"instant {text!r} needs a UTC offset")
    return instant


def write_offset(path: Path, seconds: float) -> None:
    # Written whole and renamed, so no process ever reads half an offset.
    tmp = path.with_suffix(".tmp")
    tmp.write_text(f"{seconds:+.3f}\n")
    tmp.chmod(0o644)
    tmp.replace(path)


def read_offset(path: Path) -> float:
    return float(path.read_text().strip())


def faked_env(preload_library: Path, offset_file: Path, target: datetime) -> dict[str, str]:
    """The environment that puts a process, and every process it starts, on the shared clock."""
    preload = " ".join(p for p in (str(preload_library), os.environ.get("LD_PRELOAD", "")) if p)
    return {
        "LD_PRELOAD": preload,
        OFFSET_FILE_VARIABLE: str(offset_file),
        "FAKETIME_CACHE_DURATION": str(CACHE_SECONDS),
        "DONT_FAKE_MONOTONIC": "1",
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
        TARGET_VARIABLE: target.isoformat(),
    }


def run_at(target: datetime, pytest_args: Sequence[str], *, every_test: bool = False) -> int:
    with tempfile.TemporaryDirectory(prefix="hisaab-clock-") as tmp:
        # PostgreSQL runs as its own user when the suite runs as root: it must read the
        # library and the offset too, wherever the checkout is and whatever its modes.
        Path(tmp).chmod(0o755)
        preload_library = Path(shutil.copy(library(), Path(tmp) / "libfaketime.so.1"))
        preload_library.chmod(0o755)
        offset_file = Path(tmp) / "offset"
        write_offset(offset_file, target.timestamp() - time.time())
        env = {**os.environ, **faked_env(preload_library, offset_file, target)}
        if every_test:
            env[EVERY_TEST_VARIABLE] = "1"
        utc = target.astimezone(UTC)
        which = "every test" if every_test else "tests marked 'clock'"
        print(f"== {which} at {target.isoformat()} ({utc:%Y-%m-%d %H:%M:%S} UTC)")
        sys.stdout.flush()
        selection = [] if every_test else ["-m", "clock"]
        command = [sys.executable, "-m", "pytest", *selection, "-p", "no:cacheprovider", *pytest_args]
        return subprocess.call(command, env=env)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--at", action="append", help="an ISO 8601 instant with offset (repeatable)")
    parser.add_argument(
        "--every-test", action="store_true", help="run every selected test from the instant, marked or not"
    )
    parser.add_argument("pytest_args", nargs="*", help="passed to pytest (after --)")
    args = parser.parse_args(argv)
    instants = [parse_instant(text) for text in (args.at or INSTANTS)]
    failed = [i for i in instants if run_at(i, args.pytest_args, every_test=args.every_test) != 0]
    for instant in failed:
        print(f"tests marked 'clock' failed at {instant.isoformat()}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
