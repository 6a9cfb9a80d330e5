"""Alembic environment: runs online against the URL the migrate command passes in."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, text

# Serialises concurrent migrate runs (several hook Jobs, a developer and CI).
MIGRATION_LOCK_ID = 0x48495341  # arbitrary constant


def run() -> None:
    url = context.config.attributes["sqlalchemy_url"]
    engine = create_engine(url)
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:id)"), {"id": MIGRATION_LOCK_ID})
        try:
            context.configure(connection=conn, transactional_ddl=True)
            with context.begin_transaction():
                context.run_migrations()
            conn.commit()
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": MIGRATION_LOCK_ID})
            conn.commit()
    engine.dispose()


run()
