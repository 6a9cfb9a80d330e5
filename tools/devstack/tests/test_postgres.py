"""Embedded PostgreSQL: restart keeps data, database helpers, and both the root and non-root paths."""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
import sys
import sysconfig
import tempfile
import textwrap
from pathlib import Path

import psycopg
import pytest

from tools.devstack.postgres import (
    MAX_CONNECTIONS,
    create_database,
    drop_database,
    start_postgres,
    system_user_name,
    with_database,
)
from tools.devstack.stack import REPO_ROOT


@pytest.fixture
def no_database_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)


def _server_user(pgdata: Path) -> str:
    pid = int((pgdata / "postmaster.pid").read_text().split()[0])
    return pwd.getpwuid(Path(f"/proc/{pid}").stat().st_uid).pw_name


@pytest.mark.usefixtures("no_database_url")
def test_restart_keeps_data_and_databases_come_and_go(tmp_path: Path) -> None:
    # A private home like /root (0700) above the checkout's data dir.
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    data_dir = home / "checkout" / ".data"
    data_dir.mkdir(parents=True)
    pg = start_postgres(data_dir)
    pgdata = data_dir / "postgres"
    try:
        # As root the server user may now traverse the home, but still not list it.
        assert stat.S_IMODE(home.stat().st_mode) == (0o711 if os.geteuid() == 0 else 0o700)
        assert pg.managed
        # As root the server must not run as root (PostgreSQL refuses); otherwise as us.
        assert _server_user(pgdata) == (system_user_name() or pwd.getpwuid(os.getuid()).pw_name)
        with psycopg.connect(pg.url) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == ("hisaab",)
            # Room for every process of the stack to open its whole pool.
            assert conn.execute("SHOW max_connections").fetchone() == (str(MAX_CONNECTIONS),)
            conn.execute("CREATE TABLE ledger (note text)")
            conn.execute("INSERT INTO ledger VALUES ('chai 40')")
    finally:
        pg.stop()
    assert not (pgdata / "postmaster.pid").exists()

    pg = start_postgres(data_dir)
    try:
        with psycopg.connect(pg.url) as conn:
            assert conn.execute("SELECT note FROM ledger").fetchall() == [("chai 40",)]

        url = create_database(pg.admin_url, "hisaab_test_run")
        assert url == with_database(pg.url, "hisaab_test_run")
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT to_regclass('ledger')").fetchone() == (None,)  # fresh
        with pytest.raises(FileExistsError):
            create_database(pg.admin_url, "hisaab_test_run", exist_ok=False)
        drop_database(pg.admin_url, "hisaab_test_run")
        with psycopg.connect(pg.admin_url) as conn:
            names = {row[0] for row in conn.execute("SELECT datname FROM pg_database")}
        assert "hisaab_test_run" not in names
    finally:
        pg.stop()


def test_database_url_is_used_as_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://app:secret@db.internal:5432/hisaab?sslmode=require")

    pg = start_postgres(tmp_path)
    pg.stop()

    assert not pg.managed
    assert pg.url == "postgresql://app:secret@db.internal:5432/hisaab?sslmode=require"
    assert pg.admin_url == "postgresql://app:secret@db.internal:5432/postgres?sslmode=require"
    assert list(tmp_path.iterdir()) == []  # nothing started, nothing written


# --- the non-root path -----------------------------------------------------

_SCRIPT = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    import psycopg
    from tools.devstack.postgres import start_postgres

    data = Path(sys.argv[1])
    for attempt in (1, 2):
        pg = start_postgres(data)
        with psycopg.connect(pg.url) as conn:
            if attempt == 1:
                conn.execute("CREATE TABLE t (v int)")
                conn.execute("INSERT INTO t VALUES (7)")
            print(attempt, os.getuid(), conn.execute("SELECT v FROM t").fetchone()[0], flush=True)
        pg.stop()
    """
)


def _reachable_by_others(path: Path) -> bool:
    return all(p.stat().st_mode & stat.S_IXOTH for p in path.parents)


def _interpreter_for(user_is_other: bool) -> str:
    """The venv's interpreter if that user can reach it, else the same Python version on PATH.

    Here the venv's interpreter links into /root/.pyenv and /root is 0700, so an
    unprivileged user cannot execute it; the system python3.X of the same minor
    version runs the venv's site-packages (same ABI) instead.
    """
    own = Path(sys.executable).resolve()
    if not user_is_other or _reachable_by_others(own):
        return sys.executable
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    same = shutil.which(version, path="/usr/local/bin:/usr/bin")
    if same and _reachable_by_others(Path(same).resolve()):
        return same
    pytest.fail(f"no Python {sys.version_info[:2]} an unprivileged user can execute ({own} is not reachable)")


@pytest.mark.usefixtures("no_database_url")
def test_runs_as_an_unprivileged_user() -> None:
    as_root = os.geteuid() == 0
    nobody = pwd.getpwnam("nobody")
    python = _interpreter_for(user_is_other=as_root)
    purelib = sysconfig.get_paths()["purelib"]
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": "/nonexistent" if as_root else os.environ.get("HOME", "/tmp"),
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), str(REPO_ROOT / "gen"), purelib]),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    prefix: list[str] = []
    if as_root:
        # setpriv, not runuser: nobody has no login shell and we want no PAM session.
        prefix = ["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups"]
    with tempfile.TemporaryDirectory(prefix="hisaab-devstack-") as tmp:
        root = Path(tmp)
        if as_root:
            os.chown(root, nobody.pw_uid, nobody.pw_gid)
        data = root / "data"
        result = subprocess.run(
            [*prefix, python, "-c", _SCRIPT, str(data)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        uid = nobody.pw_uid if as_root else os.getuid()
        assert result.stdout.split() == ["1", str(uid), "7", "2", str(uid), "7"]
        assert (data / "postgres").stat().st_uid == uid
        assert stat.S_IMODE(root.stat().st_mode) == 0o700  # nothing had to be opened up
