"""group: groups and members join the change feed (ListGroupChanges).

Groups and members record how they last changed and the id of the transaction that wrote
them; a member who leaves or is removed leaves a tombstone, so clients that cached them
learn of it. Existing rows get this migration's transaction id (a first sync, or the next
one from an older cursor, hands each out once); a group changed since its creation is
"updated", every existing member "added".

Revision ID: group_0003
"""

from alembic import op

revision = "group_0003"
down_revision = "group_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE groups.groups
            ADD COLUMN last_change text NOT NULL DEFAULT 'created'
                CHECK (last_change IN ('created', 'updated', 'archived', 'unarchived')),
            ADD COLUMN change_xid  xid8 NOT NULL DEFAULT pg_current_xact_id()
        """
    )
    op.execute("UPDATE groups.groups SET last_change = 'updated' WHERE version > 1")
    op.execute(
        """
        ALTER TABLE groups.members
            ADD COLUMN last_change text NOT NULL DEFAULT 'added'
                CHECK (last_change IN ('added', 'joined', 'role_changed')),
            ADD COLUMN changed_at  timestamptz NOT NULL DEFAULT now(),
            ADD COLUMN change_xid  xid8 NOT NULL DEFAULT pg_current_xact_id()
        """
    )
    op.execute("UPDATE groups.members SET changed_at = joined_at")
    op.execute(
        """
        CREATE TABLE groups.member_removals (
            group_id    uuid        NOT NULL REFERENCES groups.groups (id),
            user_id     text        NOT NULL,
            how         text        NOT NULL CHECK (how IN ('left', 'removed')),
            removed_at  timestamptz NOT NULL DEFAULT now(),
            change_xid  xid8        NOT NULL DEFAULT pg_current_xact_id(),
            PRIMARY KEY (group_id, user_id)
        )
        """
    )
    op.execute("CREATE INDEX groups_by_change ON groups.groups (change_xid, id)")
    op.execute("CREATE INDEX members_by_change ON groups.members (group_id, change_xid)")
    op.execute("CREATE INDEX member_removals_by_change ON groups.member_removals (group_id, change_xid)")


def downgrade() -> None:
    op.execute("DROP TABLE groups.member_removals")
    op.execute("DROP INDEX groups.members_by_change")
    op.execute("DROP INDEX groups.groups_by_change")
    op.execute(
        "ALTER TABLE groups.members DROP COLUMN last_change, DROP COLUMN changed_at, DROP COLUMN change_xid"
    )
    op.execute("ALTER TABLE groups.groups DROP COLUMN last_change, DROP COLUMN change_xid")
