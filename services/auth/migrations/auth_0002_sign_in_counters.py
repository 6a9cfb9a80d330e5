"""auth: counters of the sign-in limits (per client address, destination, country).

Revision ID: auth_0002
"""

from alembic import op

revision = "auth_0002"
down_revision = "auth_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # One row per (limit, key, fixed window); rows of past windows are only history.
    op.execute(
        """
        CREATE TABLE auth.sign_in_counters (
            scope        text        NOT NULL,
            key          text        NOT NULL,
            window_start timestamptz NOT NULL,
            window_end   timestamptz NOT NULL,
            hits         integer     NOT NULL,
            PRIMARY KEY (scope, key, window_start)
        )
        """
    )
    op.execute("CREATE INDEX sign_in_counters_end ON auth.sign_in_counters (window_end)")


def downgrade() -> None:
    op.execute("DROP TABLE auth.sign_in_counters")
