"""settlement: settlements join the change feed (ListSettlementChanges).

Each settlement records how it last changed and the id of the transaction that wrote it,
like expenses. Existing rows get this migration's transaction id, so a first sync hands
each of them out; `last_change` says "deleted" for those deleted and "created" for the
rest (a restore was not recorded before), and `changed_at` the time of that change.

Revision ID: settlement_0003
"""

from alembic import op

revision = "settlement_0003"
down_revision = "settlement_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE settlement.settlements
            ADD COLUMN last_change text NOT NULL DEFAULT 'created'
                CHECK (last_change IN ('created', 'deleted', 'restored')),
            ADD COLUMN changed_at  timestamptz,
            ADD COLUMN change_xid  xid8 NOT NULL DEFAULT pg_current_xact_id()
        """
    )
    op.execute(
        "UPDATE settlement.settlements "
        "SET last_change = CASE WHEN deleted THEN 'deleted' ELSE 'created' END, "
        "changed_at = COALESCE(deleted_at, created_at)"
    )
    op.execute("ALTER TABLE settlement.settlements ALTER COLUMN changed_at SET DEFAULT now()")
    op.execute("ALTER TABLE settlement.settlements ALTER COLUMN changed_at SET NOT NULL")
    op.execute("CREATE INDEX settlements_by_change ON settlement.settlements (group_id, change_xid, id)")


def downgrade() -> None:
    op.execute("DROP INDEX settlement.settlements_by_change")
    op.execute(
        "ALTER TABLE settlement.settlements DROP COLUMN last_change, DROP COLUMN changed_at, "
        "DROP COLUMN change_xid"
    )
