"""expense: comments join the change feed (ListExpenseChanges).

Each comment gets the id of the transaction that last wrote it (created or deleted), like
expenses. Comments that exist already get this migration's transaction id: they are newer
than every expense a client has synced, so a client resuming from its cursor receives each
of them once.

Revision ID: expense_0004
"""

from alembic import op

revision = "expense_0004"
down_revision = "expense_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "ALTER TABLE expense.comments ADD COLUMN change_xid xid8 NOT NULL DEFAULT pg_current_xact_id()"
    )
    op.execute("CREATE INDEX comments_by_change ON expense.comments (group_id, change_xid, id)")


def downgrade() -> None:
    op.execute("DROP INDEX expense.comments_by_change")
    op.execute("ALTER TABLE expense.comments DROP COLUMN change_xid")
