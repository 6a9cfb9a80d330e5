"""settlement: recorded settle-up payments (their money lives in the ledger entry with the same id).

Revision ID: settlement_0001
"""

from alembic import op

revision = "settlement_0001"
down_revision = None
branch_labels = ("settlement",)
depends_on = None


def upgrade() -> None:
    op.execute("CREATE SCHEMA IF NOT EXISTS settlement")
    op.execute(
        """
        CREATE TABLE settlement.settlements (
            -- also the id of its ledger entry (ledger.entries.id)
            id                uuid        PRIMARY KEY,
            group_id          uuid        NOT NULL,
            payer             text        NOT NULL,
            payee             text        NOT NULL,
            currency          text        NOT NULL,
            amount_minor      bigint      NOT NULL CHECK (amount_minor > 0),
            settle_date       date        NOT NULL,
            note              text        NOT NULL DEFAULT '',
            method            text        NOT NULL
                              CHECK (method IN ('unspecified', 'cash', 'upi', 'other')),
            payment_reference text        NOT NULL DEFAULT '',
            creator           text        NOT NULL,
            deleted           boolean     NOT NULL DEFAULT false,
            version           integer     NOT NULL DEFAULT 1,
            created_at        timestamptz NOT NULL DEFAULT now(),
            deleted_at        timestamptz,
            CHECK (payer <> payee)
        )
        """
    )
    # ListSettlements: newest settle_date first, keyset on (settle_date, created_at, id).
    op.execute(
        "CREATE INDEX settlements_by_group ON settlement.settlements "
        "(group_id, settle_date DESC, created_at DESC, id DESC)"
    )


def downgrade() -> None:
    op.execute("DROP SCHEMA settlement CASCADE")
