"""settlement: daily reference exchange rates, as the configured source published them.

Revision ID: settlement_0002
"""

from alembic import op

revision = "settlement_0002"
down_revision = "settlement_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE settlement.exchange_rates (
            rate_date  date        NOT NULL,
            -- units of this currency that one unit of `base` buys
            currency   text        NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
            per_base   numeric     NOT NULL CHECK (per_base > 0),
            base       text        NOT NULL CHECK (base ~ '^[A-Z]{3}$'),
            source     text        NOT NULL,
            fetched_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (rate_date, currency)
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE settlement.exchange_rates")
