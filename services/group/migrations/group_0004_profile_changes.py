"""group: a member's row is written again when their profile changes.

The change feed hands out member rows by the transaction that last wrote them, and a
member's display name and state come from their profile in auth-service. The group
worker marks a person's memberships (and their friend ledgers) as changed when they
rename themselves or an invited placeholder signs in; such a member row says how with
"profile_changed".

Revision ID: group_0004
"""

from alembic import op

revision = "group_0004"
down_revision = "group_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE groups.members
            DROP CONSTRAINT members_last_change_check,
            ADD CONSTRAINT members_last_change_check
                CHECK (last_change IN ('added', 'joined', 'role_changed', 'profile_changed'))
        """
    )


def downgrade() -> None:
    op.execute("UPDATE groups.members SET last_change = 'added' WHERE last_change = 'profile_changed'")
    op.execute(
        """
        ALTER TABLE groups.members
            DROP CONSTRAINT members_last_change_check,
            ADD CONSTRAINT members_last_change_check
                CHECK (last_change IN ('added', 'joined', 'role_changed'))
        """
    )
