"""auth: users, one-time-code challenges, refresh tokens, devices.

Revision ID: auth_0001
"""

from alembic import op

revision = "auth_0001"
down_revision = None
branch_labels = ("auth",)
depends_on = None


def upgrade() -> None:
    op.execute("CREATE SCHEMA IF NOT EXISTS auth")
    op.execute(
        """
        CREATE TABLE auth.users (
            id               text        PRIMARY KEY,
            phone_number     text        UNIQUE,
            email            text        UNIQUE,
            display_name     text        NOT NULL DEFAULT '',
            default_currency text        NOT NULL DEFAULT 'INR',
            locale           text        NOT NULL DEFAULT 'en-IN',
            upi_vpa          text        NOT NULL DEFAULT '',
            state            text        NOT NULL CHECK (state IN ('active', 'placeholder')),
            version          integer     NOT NULL DEFAULT 1,
            created_at       timestamptz NOT NULL DEFAULT now(),
            updated_at       timestamptz NOT NULL DEFAULT now(),
            CHECK (phone_number IS NOT NULL OR email IS NOT NULL)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE auth.otp_challenges (
            id             uuid        PRIMARY KEY,
            channel        text        NOT NULL,
            contact        text        NOT NULL,
            code_hash      bytea,
            provider_state text        NOT NULL DEFAULT '',
            attempts       integer     NOT NULL DEFAULT 0,
            expires_at     timestamptz NOT NULL,
            consumed_at    timestamptz,
            created_at     timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute("CREATE INDEX otp_challenges_contact ON auth.otp_challenges (contact, created_at DESC)")
    op.execute(
        """
        CREATE TABLE auth.refresh_tokens (
            token_hash  bytea       PRIMARY KEY,
            user_id     text        NOT NULL REFERENCES auth.users (id),
            expires_at  timestamptz NOT NULL,
            revoked_at  timestamptz,
            created_at  timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute(
        """
        CREATE TABLE auth.devices (
            id          uuid        PRIMARY KEY,
            user_id     text        NOT NULL REFERENCES auth.users (id),
            platform    text        NOT NULL,
            push_token  text        NOT NULL,
            app_version text        NOT NULL DEFAULT '',
            created_at  timestamptz NOT NULL DEFAULT now(),
            UNIQUE (user_id, push_token)
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP SCHEMA auth CASCADE")
