"""Apply every service's migrations: ``python -m libs.db.migrate`` (Alembic ``upgrade heads``).

Each service keeps its own migration branch in ``services/<name>/migrations``
(branch label = service name); the shared kit's tables are the ``kit`` branch
in ``libs/db/versions`` and the ledger's the ``ledger`` branch in
``libs/ledger/migrations``, beside the only code that touches them. One Alembic
version table records all heads.

Rule for zero-downtime upgrades (old pods keep serving while new ones start):
migrations only *expand* (add tables, nullable columns, indexes concurrently);
a later release *contracts* (drops) once no running code reads the old shape.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from alembic import command
from alembic.config import Config

from libs.db.database import sqlalchemy_url
from libs.settings import env_var

ROOT = Path(__file__).resolve().parent.parent.parent


def version_locations() -> list[Path]:
    found = [ROOT / "libs" / "db" / "versions", ROOT / "libs" / "ledger" / "migrations"]
    found += sorted(p for p in (ROOT / "services").glob("*/migrations") if p.is_dir())
    return found


def alembic_config(database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(ROOT / "libs" / "db" / "alembic"))
    cfg.set_main_option("version_locations", " ".join(str(p) for p in version_locations()))
    cfg.set_main_option("path_separator", "space")
    cfg.attributes["sqlalchemy_url"] = sqlalchemy_url(database_url)
    return cfg


def upgrade(database_url: str, target: str = "heads") -> None:
    command.upgrade(alembic_config(database_url), target)


def main() -> None:
    parser = argparse.ArgumentParser(description="Apply database migrations")
    parser.add_argument("--database-url", default=env_var("DATABASE_URL"))
    parser.add_argument("target", nargs="?", default="heads")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    upgrade(args.database_url, args.target)


if __name__ == "__main__":
    main()
