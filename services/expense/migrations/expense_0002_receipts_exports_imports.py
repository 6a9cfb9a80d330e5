"""expense: receipt columns, the export queue, and rows already imported from Splitwise.

Expand-only: new nullable columns and new tables, so pods of the previous
release keep working while this one rolls out.

Revision ID: expense_0002
"""

from alembic import op

revision = "expense_0002"
down_revision = "expense_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE expense.expenses
            ADD COLUMN receipt_key          text,
            ADD COLUMN receipt_content_type text,
            ADD COLUMN receipt_size         bigint,
            ADD COLUMN receipt_uploaded_at  timestamptz
        """
    )
    op.execute(
        """
        CREATE TABLE expense.exports (
            id           uuid        PRIMARY KEY,
            group_id     uuid        NOT NULL,
            format       text        NOT NULL CHECK (format IN ('csv', 'pdf')),
            state        text        NOT NULL DEFAULT 'pending'
                         CHECK (state IN ('pending', 'running', 'succeeded', 'failed')),
            start_date   date,
            end_date     date,
            -- group and member names as the requester saw them, so the builder needs no RPCs
            snapshot     jsonb       NOT NULL,
            object_key   text,
            error        text        NOT NULL DEFAULT '',
            attempts     integer     NOT NULL DEFAULT 0,
            lease_until  timestamptz,
            creator      text        NOT NULL,
            created_at   timestamptz NOT NULL DEFAULT now(),
            completed_at timestamptz
        )
        """
    )
    op.execute(
        "CREATE INDEX exports_open ON expense.exports (created_at) WHERE state IN ('pending', 'running')"
    )
    op.execute(
        """
        CREATE TABLE expense.imported_rows (
            group_id    uuid        NOT NULL,
            row_id      uuid        NOT NULL,
            kind        text        NOT NULL CHECK (kind IN ('expense', 'settlement')),
            target      text        NOT NULL,
            imported_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (group_id, row_id)
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE expense.imported_rows")
    op.execute("DROP TABLE expense.exports")
    op.execute(
        "ALTER TABLE expense.expenses DROP COLUMN receipt_key, DROP COLUMN receipt_content_type, "
        "DROP COLUMN receipt_size, DROP COLUMN receipt_uploaded_at"
    )
