"""expense: expenses, comments, the activity feed and recurring rules.

The ledger entry of an expense has the expense's id (ledger schema, written by
libs.ledger.store); this schema holds what the user said about the expense.

Revision ID: expense_0001
"""

from alembic import op

revision = "expense_0001"
down_revision = None
branch_labels = ("expense",)
depends_on = None


def upgrade() -> None:
    op.execute("CREATE SCHEMA IF NOT EXISTS expense")
    op.execute(
        """
        CREATE TABLE expense.expenses (
            id                uuid        PRIMARY KEY,
            group_id          uuid        NOT NULL,
            description       text        NOT NULL,
            category          text        NOT NULL,
            expense_date      date        NOT NULL,
            notes             text        NOT NULL DEFAULT '',
            currency          text        NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
            total_minor       bigint      NOT NULL CHECK (total_minor > 0),
            payers            jsonb       NOT NULL,
            split             jsonb       NOT NULL,
            -- who paid and who is involved at all, for the list filters
            payer_ids         text[]      NOT NULL,
            participant_ids   text[]      NOT NULL,
            recurring_rule_id uuid,
            creator           text        NOT NULL,
            last_editor       text        NOT NULL,
            comment_count     integer     NOT NULL DEFAULT 0,
            version           integer     NOT NULL DEFAULT 1,
            created_at        timestamptz NOT NULL DEFAULT now(),
            updated_at        timestamptz NOT NULL DEFAULT now(),
            deleted_at        timestamptz,
            last_change       text        NOT NULL DEFAULT 'created'
                              CHECK (last_change IN ('created', 'updated', 'deleted', 'restored')),
            -- The writing transaction's id: the change feed only hands out rows older than
            -- every transaction still running, so a cursor never skips a late commit.
            change_xid        xid8        NOT NULL DEFAULT pg_current_xact_id()
        )
        """
    )
    op.execute("CREATE INDEX expenses_by_date ON expense.expenses (group_id, expense_date, id)")
    op.execute("CREATE INDEX expenses_by_create ON expense.expenses (group_id, created_at, id)")
    op.execute("CREATE INDEX expenses_by_update ON expense.expenses (group_id, updated_at, id)")
    op.execute("CREATE INDEX expenses_by_change ON expense.expenses (group_id, change_xid, id)")
    op.execute("CREATE INDEX expenses_by_participant ON expense.expenses USING gin (participant_ids)")
    op.execute("CREATE INDEX expenses_by_payer ON expense.expenses USING gin (payer_ids)")
    op.execute(
        """
        CREATE TABLE expense.comments (
            id          uuid        PRIMARY KEY,
            group_id    uuid        NOT NULL,
            expense_id  uuid        NOT NULL REFERENCES expense.expenses (id),
            author      text        NOT NULL,
            body        text        NOT NULL,
            created_at  timestamptz NOT NULL DEFAULT now(),
            deleted_at  timestamptz
        )
        """
    )
    op.execute("CREATE INDEX comments_by_expense ON expense.comments (expense_id, created_at, id)")
    op.execute(
        """
        CREATE TABLE expense.activities (
            id           uuid        PRIMARY KEY,
            seq          bigserial   NOT NULL UNIQUE,
            group_id     uuid        NOT NULL,
            actor        text        NOT NULL,
            verb         text        NOT NULL,
            subject      text        NOT NULL,
            details      jsonb       NOT NULL,
            currency     text        NOT NULL DEFAULT '',
            amount_minor bigint      NOT NULL DEFAULT 0,
            -- user id -> how the activity moved that user's balance
            effects      jsonb       NOT NULL DEFAULT '{}',
            created_at   timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute("CREATE INDEX activities_by_group ON expense.activities (group_id, seq)")
    op.execute(
        """
        CREATE TABLE expense.recurring_rules (
            id               uuid        PRIMARY KEY,
            group_id         uuid        NOT NULL,
            frequency        text        NOT NULL
                             CHECK (frequency IN ('daily', 'weekly', 'monthly', 'yearly')),
            interval_count   integer     NOT NULL CHECK (interval_count BETWEEN 1 AND 366),
            start_date       date        NOT NULL,
            end_date         date,
            next_occurrence  date,
            template         jsonb       NOT NULL,
            paused           boolean     NOT NULL DEFAULT false,
            creator          text        NOT NULL,
            version          integer     NOT NULL DEFAULT 1,
            created_at       timestamptz NOT NULL DEFAULT now(),
            updated_at       timestamptz NOT NULL DEFAULT now(),
            deleted_at       timestamptz
        )
        """
    )
    op.execute(
        "CREATE INDEX recurring_rules_by_group ON expense.recurring_rules (group_id, next_occurrence, id) "
        "WHERE deleted_at IS NULL"
    )


def downgrade() -> None:
    op.execute("DROP SCHEMA expense CASCADE")
