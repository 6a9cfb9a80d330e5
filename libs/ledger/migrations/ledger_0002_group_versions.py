"""ledger: a version per group, bumped with every balance change (cache keys).

Revision ID: ledger_0002
"""

from alembic import op

revision = "ledger_0002"
down_revision = "ledger_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE ledger.group_versions (
            group_id uuid   PRIMARY KEY,
            version  bigint NOT NULL
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE ledger.group_versions")
