"""group: named split presets, at most one default per group.

Revision ID: group_0002
"""

from alembic import op

revision = "group_0002"
down_revision = "group_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE groups.split_presets (
            id            uuid        PRIMARY KEY,
            group_id      uuid        NOT NULL REFERENCES groups.groups (id),
            display_name  text        NOT NULL,
            mode          text        NOT NULL CHECK (mode IN ('equal', 'percent', 'shares', 'exact')),
            -- [[user_id, value], ...] in the order given
            entries       jsonb       NOT NULL,
            currency_code text        NOT NULL DEFAULT '',
            is_default    boolean     NOT NULL DEFAULT false,
            created_by    text        NOT NULL,
            version       integer     NOT NULL DEFAULT 1,
            created_at    timestamptz NOT NULL DEFAULT now(),
            updated_at    timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute("CREATE INDEX split_presets_by_group ON groups.split_presets (group_id, display_name, id)")
    op.execute(
        "CREATE UNIQUE INDEX split_presets_one_default ON groups.split_presets (group_id) WHERE is_default"
    )


def downgrade() -> None:
    op.execute("DROP TABLE groups.split_presets")
