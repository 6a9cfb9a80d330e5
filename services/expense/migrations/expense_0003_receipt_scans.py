"""expense: receipt scans (a photo, its state, the draft the engine read).

Revision ID: expense_0003
"""

from alembic import op

revision = "expense_0003"
down_revision = "expense_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE expense.receipt_scans (
            id                uuid        PRIMARY KEY,
            group_id          uuid        NOT NULL,
            source_key        text        NOT NULL,
            content_type      text        NOT NULL,
            size_bytes        bigint      NOT NULL,
            source_expense_id uuid,
            currency_hint     text        NOT NULL DEFAULT '',
            state             text        NOT NULL DEFAULT 'pending'
                              CHECK (state IN ('pending', 'running', 'succeeded', 'failed')),
            engine            text        NOT NULL DEFAULT '',
            draft             jsonb,
            error             text        NOT NULL DEFAULT '',
            attempts          integer     NOT NULL DEFAULT 0,
            -- the expense created from the draft; one per scan
            expense_id        uuid        UNIQUE,
            creator           text        NOT NULL,
            created_at        timestamptz NOT NULL DEFAULT now(),
            completed_at      timestamptz
        )
        """
    )
    op.execute("CREATE INDEX receipt_scans_by_group ON expense.receipt_scans (group_id, created_at)")


def downgrade() -> None:
    op.execute("DROP TABLE expense.receipt_scans")
