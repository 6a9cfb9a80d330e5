"""Shared kit tables: idempotency keys and the transactional outbox.

Revision ID: kit_0001
"""

from alembic import op

revision = "kit_0001"
down_revision = None
branch_labels = ("kit",)
depends_on = None


def upgrade() -> None:
    op.execute("CREATE SCHEMA IF NOT EXISTS kit")
    op.execute(
        """
        CREATE TABLE kit.idempotency_keys (
            scope        text        NOT NULL,
            caller       text        NOT NULL,
            request_id   text        NOT NULL,
            request_hash bytea       NOT NULL,
            response     bytea,
            created_at   timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (scope, caller, request_id)
        )
        """
    )
    op.execute("CREATE INDEX idempotency_keys_created_at ON kit.idempotency_keys (created_at)")
    op.execute(
        """
        CREATE TABLE kit.outbox (
            id           uuid        PRIMARY KEY,
            seq          bigserial   NOT NULL UNIQUE,
            event_type   text        NOT NULL,
            aggregate    text        NOT NULL,
            actor        text        NOT NULL DEFAULT '',
            payload      jsonb       NOT NULL,
            created_at   timestamptz NOT NULL DEFAULT now(),
            published_at timestamptz
        )
        """
    )
    op.execute("CREATE INDEX outbox_unpublished ON kit.outbox (seq) WHERE published_at IS NULL")


def downgrade() -> None:
    op.execute("DROP SCHEMA kit CASCADE")
