"""ledger: entries, per-user postings and running balances (written only by the libs.ledger package).

Revision ID: ledger_0001
"""

from alembic import op

revision = "ledger_0001"
down_revision = None
branch_labels = ("ledger",)
depends_on = None


def upgrade() -> None:
    op.execute("CREATE SCHEMA IF NOT EXISTS ledger")
    op.execute(
        """
        CREATE TABLE ledger.entries (
            id           uuid        PRIMARY KEY,
            group_id     uuid        NOT NULL,
            kind         text        NOT NULL CHECK (kind IN ('expense', 'settlement')),
            currency     text        NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
            total_minor  bigint      NOT NULL CHECK (total_minor > 0),
            active       boolean     NOT NULL DEFAULT true,
            version      integer     NOT NULL DEFAULT 1,
            created_at   timestamptz NOT NULL DEFAULT now(),
            updated_at   timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute("CREATE INDEX entries_by_group ON ledger.entries (group_id, created_at)")
    op.execute(
        """
        CREATE TABLE ledger.postings (
            entry_id   uuid   NOT NULL REFERENCES ledger.entries (id) ON DELETE CASCADE,
            user_id    text   NOT NULL,
            paid_minor bigint NOT NULL CHECK (paid_minor >= 0),
            owed_minor bigint NOT NULL CHECK (owed_minor >= 0),
            PRIMARY KEY (entry_id, user_id)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE ledger.balances (
            group_id   uuid   NOT NULL,
            user_id    text   NOT NULL,
            currency   text   NOT NULL,
            net_minor  bigint NOT NULL DEFAULT 0,
            PRIMARY KEY (group_id, user_id, currency)
        )
        """
    )
    op.execute("CREATE INDEX balances_by_user ON ledger.balances (user_id) WHERE net_minor <> 0")


def downgrade() -> None:
    op.execute("DROP SCHEMA ledger CASCADE")
