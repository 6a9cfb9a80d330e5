"""The time-travel runner moves a child process's wall clock, and a rewrite of the offset moves it again."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tools import timetravel

PROBE = """
import sys, time
from datetime import UTC, datetime
first = datetime.now(UTC)
print(first.isoformat(), flush=True)
sys.stdin.readline()  # the parent has rewritten the offset
deadline = time.monotonic() + 20
while (datetime.now(UTC) - first).days < 300 and time.monotonic() < deadline:
    time.sleep(0.05)  # libfaketime re-reads the file once its cached copy is a second old
print(datetime.now(UTC).isoformat(), flush=True)
"""


def test_child_clock_is_moved_and_follows_the_offset_file(tmp_path: Path) -> None:
    target = timetravel.parse_instant("2028-02-29T23:59:50+05:30")
    library = Path(shutil.copy(timetravel.library(), tmp_path / "libfaketime.so.1"))
    offset = tmp_path / "offset"
    timetravel.write_offset(offset, target.timestamp() - datetime.now(UTC).timestamp())
    env = {**os.environ, **timetravel.faked_env(library, offset, target)}
    child = subprocess.Popen(
        [sys.executable, "-c", PROBE], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert child.stdin is not None and child.stdout is not None
    first = datetime.fromisoformat(child.stdout.readline().strip())
    assert abs((first - target).total_seconds()) < 30
    assert first.astimezone(UTC).date().isoformat() == "2028-02-29"

    timetravel.write_offset(offset, timetravel.read_offset(offset) + 365 * 86400)
    child.stdin.write("go\n")
    child.stdin.flush()
    second = datetime.fromisoformat(child.stdout.readline().strip())
    assert child.wait(timeout=30) == 0
    assert 364 < (second - first).total_seconds() / 86400 < 366


def test_instants_need_an_offset() -> None:
    assert timetravel.parse_instant("2027-04-30T18:29:50Z") == datetime(2027, 4, 30, 18, 29, 50, tzinfo=UTC)
    with pytest.raises(ValueError, match="offset"):
        timetravel.parse_instant("2027-04-30T18:29:50")
