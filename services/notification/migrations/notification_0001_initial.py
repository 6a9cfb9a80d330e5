"""notification: inbox, preferences, the event dedupe table, deliveries, memberships, job runs.

Revision ID: notification_0001
"""

from alembic import op

revision = "notification_0001"
down_revision = None
branch_labels = ("notification",)
depends_on = None


def upgrade() -> None:
    op.execute("CREATE SCHEMA IF NOT EXISTS notification")
    # One row per event ever handled: a redelivered event hits the primary key and does nothing.
    op.execute(
        """
        CREATE TABLE notification.processed_events (
            event_id     text        PRIMARY KEY,
            event_type   text        NOT NULL,
            processed_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    # Who is in which group, built from group events (seq orders out-of-order deliveries).
    op.execute(
        """
        CREATE TABLE notification.memberships (
            group_id text    NOT NULL,
            user_id  text    NOT NULL,
            present  boolean NOT NULL,
            seq      bigint  NOT NULL,
            PRIMARY KEY (group_id, user_id)
        )
        """
    )
    op.execute("CREATE INDEX memberships_user ON notification.memberships (user_id) WHERE present")
    op.execute(
        """
        CREATE TABLE notification.notifications (
            id         uuid        PRIMARY KEY,
            user_id    text        NOT NULL,
            event_id   text        NOT NULL,
            event_type text        NOT NULL,
            title      text        NOT NULL,
            body       text        NOT NULL,
            deep_link  text        NOT NULL DEFAULT '',
            group_id   text        NOT NULL DEFAULT '',
            actor      text        NOT NULL DEFAULT '',
            created_at timestamptz NOT NULL DEFAULT now(),
            read_at    timestamptz,
            -- false when the user muted in-app for this type but wants push/SMS/email
            in_app     boolean     NOT NULL DEFAULT true,
            UNIQUE (event_id, user_id)
        )
        """
    )
    op.execute(
        "CREATE INDEX notifications_inbox ON notification.notifications (user_id, created_at DESC, id DESC)"
    )
    op.execute(
        "CREATE INDEX notifications_unread ON notification.notifications (user_id) "
        "WHERE read_at IS NULL AND in_app"
    )
    op.execute(
        """
        CREATE TABLE notification.preferences (
            user_id       text        PRIMARY KEY,
            reminder_hour integer     NOT NULL CHECK (reminder_hour BETWEEN 0 AND 23),
            time_zone     text        NOT NULL,
            locale        text        NOT NULL DEFAULT '',
            version       integer     NOT NULL DEFAULT 1,
            updated_at    timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    # Only switches a user changed; the rest are the defaults in domain.py.
    op.execute(
        """
        CREATE TABLE notification.channel_settings (
            user_id    text    NOT NULL,
            event_type text    NOT NULL,
            channel    text    NOT NULL,
            enabled    boolean NOT NULL,
            PRIMARY KEY (user_id, event_type, channel)
        )
        """
    )
    # Push/SMS/email to send, written with the inbox row; a separate loop sends and retries.
    op.execute(
        """
        CREATE TABLE notification.deliveries (
            id              uuid        PRIMARY KEY,
            notification_id uuid        NOT NULL REFERENCES notification.notifications (id) ON DELETE CASCADE,
            user_id         text        NOT NULL,
            channel         text        NOT NULL,
            target          text        NOT NULL,
            title           text        NOT NULL,
            body            text        NOT NULL,
            deep_link       text        NOT NULL DEFAULT '',
            status          text        NOT NULL DEFAULT 'pending'
                                        CHECK (status IN ('pending', 'sent', 'failed')),
            attempts        integer     NOT NULL DEFAULT 0,
            next_attempt_at timestamptz NOT NULL DEFAULT now(),
            last_error      text        NOT NULL DEFAULT '',
            provider_id     text        NOT NULL DEFAULT '',
            created_at      timestamptz NOT NULL DEFAULT now(),
            sent_at         timestamptz
        )
        """
    )
    op.execute(
        "CREATE INDEX deliveries_due ON notification.deliveries (next_attempt_at) WHERE status = 'pending'"
    )
    op.execute("CREATE INDEX deliveries_notification ON notification.deliveries (notification_id)")
    op.execute(
        """
        CREATE TABLE notification.job_runs (
            job          text        NOT NULL,
            period_start timestamptz NOT NULL,
            started_at   timestamptz NOT NULL DEFAULT now(),
            completed_at timestamptz,
            result       jsonb       NOT NULL DEFAULT '{}',
            PRIMARY KEY (job, period_start)
        )
        """
    )
    # At most one balance reminder per user and (their local) day.
    op.execute(
        """
        CREATE TABLE notification.reminders_sent (
            user_id text        NOT NULL,
            day     date        NOT NULL,
            sent_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (user_id, day)
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP SCHEMA notification CASCADE")
