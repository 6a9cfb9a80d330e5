"""group: groups, members, invite links.

Revision ID: group_0001
"""

from alembic import op

revision = "group_0001"
down_revision = None
branch_labels = ("group",)
depends_on = None


def upgrade() -> None:
    op.execute("CREATE SCHEMA IF NOT EXISTS groups")
    op.execute(
        """
        CREATE TABLE groups.groups (
            id               uuid        PRIMARY KEY,
            display_name     text        NOT NULL,
            kind             text        NOT NULL
                             CHECK (kind IN ('trip', 'home', 'couple', 'other', 'direct')),
            description      text        NOT NULL DEFAULT '',
            default_currency text        NOT NULL,
            simplify_debts   boolean     NOT NULL DEFAULT true,
            archived         boolean     NOT NULL DEFAULT false,
            -- "<smaller user id>|<larger user id>" for DIRECT groups: at most one per pair
            direct_key       text        UNIQUE,
            created_by       text        NOT NULL,
            version          integer     NOT NULL DEFAULT 1,
            created_at       timestamptz NOT NULL DEFAULT now(),
            updated_at       timestamptz NOT NULL DEFAULT now(),
            CHECK ((kind = 'direct') = (direct_key IS NOT NULL))
        )
        """
    )
    op.execute(
        """
        CREATE TABLE groups.members (
            group_id             uuid        NOT NULL REFERENCES groups.groups (id),
            user_id              text        NOT NULL,
            role                 text        NOT NULL CHECK (role IN ('owner', 'member')),
            invited_phone_number text        NOT NULL DEFAULT '',
            invited_email        text        NOT NULL DEFAULT '',
            added_by             text        NOT NULL,
            joined_at            timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (group_id, user_id)
        )
        """
    )
    op.execute("CREATE INDEX members_by_user ON groups.members (user_id, group_id)")
    op.execute(
        """
        CREATE TABLE groups.invite_links (
            id          uuid        PRIMARY KEY,
            group_id    uuid        NOT NULL REFERENCES groups.groups (id),
            token       text        NOT NULL UNIQUE,
            expires_at  timestamptz,
            revoked_at  timestamptz,
            created_by  text        NOT NULL,
            created_at  timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute("CREATE INDEX invite_links_by_group ON groups.invite_links (group_id, created_at)")


def downgrade() -> None:
    op.execute("DROP SCHEMA groups CASCADE")
