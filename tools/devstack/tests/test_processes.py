"""The supervisor against a real grpc.aio stand-in service (no dependence on the real services)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tools.devstack.ports import free_port
from tools.devstack.processes import ManagedProcess, ProcessFailed, Supervisor, wait_until_serving

FAKE = str(Path(__file__).with_name("fake_service.py"))
SERVICE = "hisaab.fake.v1.FakeService"


def _running(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie (Linux /proc)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _running(pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def _fake(supervisor: Supervisor, port: int, *flags: str) -> ManagedProcess:
    return supervisor.start("fake", [sys.executable, FAKE, str(port), SERVICE, *flags], os.environ)


def test_waits_for_serving_then_stops_cleanly(tmp_path: Path) -> None:
    supervisor = Supervisor(tmp_path / "logs", grace=5)
    port = free_port()
    proc = _fake(supervisor, port, "--serve-after", "0.5")
    started = time.monotonic()
    wait_until_serving(proc, f"127.0.0.1:{port}", SERVICE, timeout=20)
    assert time.monotonic() - started >= 0.5  # NOT_SERVING was not taken for ready

    codes = supervisor.stop_all()

    assert codes == {"fake": 0}
    log = (tmp_path / "logs" / "fake.log").read_text()
    assert "fake service serving" in log
    assert "fake service stopping" in log
    assert not _running(proc.pid)


def test_sigkill_after_grace_when_sigterm_is_ignored(tmp_path: Path) -> None:
    supervisor = Supervisor(tmp_path / "logs", grace=0.5)
    port = free_port()
    proc = _fake(supervisor, port, "--ignore-sigterm")
    wait_until_serving(proc, f"127.0.0.1:{port}", SERVICE, timeout=20)

    codes = supervisor.stop_all()

    assert codes == {"fake": -signal.SIGKILL}


def test_crash_at_startup_reports_log_tail(tmp_path: Path) -> None:
    supervisor = Supervisor(tmp_path / "logs")
    port = free_port()
    proc = _fake(supervisor, port, "--crash")

    with pytest.raises(ProcessFailed, match="config is broken") as failure:
        wait_until_serving(proc, f"127.0.0.1:{port}", SERVICE, timeout=20)
    assert "exited with code 3" in str(failure.value)
    supervisor.stop_all()


def test_timeout_names_the_last_status(tmp_path: Path) -> None:
    supervisor = Supervisor(tmp_path / "logs", grace=2)
    port = free_port()
    proc = _fake(supervisor, port, "--serve-after", "60")
    try:
        with pytest.raises(ProcessFailed, match=r"not SERVING .* \(last: NOT_SERVING\)"):
            wait_until_serving(proc, f"127.0.0.1:{port}", SERVICE, timeout=1.5)
    finally:
        supervisor.stop_all()


def test_echo_prefixes_lines_and_still_logs(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    supervisor = Supervisor(tmp_path / "logs", echo=True)
    proc = supervisor.start("talker", [sys.executable, "-c", "print('hello'); print('bye')"], os.environ)
    proc.popen.wait(timeout=20)
    assert supervisor.stop_all() == {"talker": 0}
    out = capfd.readouterr().out
    assert "[talker] hello\n" in out
    assert "[talker] bye\n" in out
    assert (tmp_path / "logs" / "talker.log").read_text() == "hello\nbye\n"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signals are Linux-only")
def test_children_die_with_their_parent(tmp_path: Path) -> None:
    # A parent process starts a long sleeper through ManagedProcess, prints its
    # pid, and is then SIGKILLed: the sleeper must not be left behind.
    script = textwrap.dedent(
        f"""
        import os, sys, time
        from pathlib import Path
        from tools.devstack.processes import ManagedProcess
        child = ManagedProcess("sleeper", [sys.executable, "-c", "import time; time.sleep(60)"],
                               env=os.environ, log_path=Path({str(tmp_path)!r}) / "sleeper.log")
        print(child.pid, flush=True)
        time.sleep(60)
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    child_pid = int(parent.stdout.readline())
    assert _running(child_pid)

    parent.kill()
    parent.wait()

    assert _wait_gone(child_pid, timeout=5)


def test_background_children_run_at_a_lower_priority(tmp_path: Path) -> None:
    supervisor = Supervisor(tmp_path / "logs", echo=False, grace=2)
    script = "import os; print('nice', os.nice(0))"
    normal = supervisor.start("normal", [sys.executable, "-c", script], env=os.environ)
    background = supervisor.start("background", [sys.executable, "-c", script], env=os.environ, nice=7)
    normal.popen.wait(10)
    background.popen.wait(10)
    base = os.nice(0)
    assert f"nice {base}" in normal.log_path.read_text()
    assert f"nice {min(base + 7, 19)}" in background.log_path.read_text()
