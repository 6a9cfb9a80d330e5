"""pricing: catalog (features, packs, quotas), orders, entitlements, quota usage, webhook log; seed catalog.

Revision ID: pricing_0001
"""

from alembic import op

revision = "pricing_0001"
down_revision = None
branch_labels = ("pricing",)
depends_on = None


def upgrade() -> None:
    op.execute("CREATE SCHEMA IF NOT EXISTS pricing")
    op.execute(
        """
        CREATE TABLE pricing.features (
            key          text        PRIMARY KEY CHECK (key ~ '^[a-z][a-z0-9_]{0,62}$'),
            display_name text        NOT NULL,
            description  text        NOT NULL DEFAULT '',
            updated_at   timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute(
        """
        CREATE TABLE pricing.packs (
            key                    text        PRIMARY KEY CHECK (key ~ '^[a-z][a-z0-9_]{0,62}$'),
            display_name           text        NOT NULL,
            description            text        NOT NULL DEFAULT '',
            features               text[]      NOT NULL,
            -- NULL: the features never lapse
            duration_seconds       bigint      CHECK (duration_seconds > 0),
            -- INR in paise; other currencies in their minor units, {"USD": 199}
            price_inr_minor        bigint      NOT NULL CHECK (price_inr_minor > 0),
            other_prices           jsonb       NOT NULL DEFAULT '{}',
            active                 boolean     NOT NULL DEFAULT true,
            sort_order             integer     NOT NULL DEFAULT 0,
            google_play_product_id text        NOT NULL DEFAULT '',
            app_store_product_id   text        NOT NULL DEFAULT '',
            updated_at             timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute(
        """
        CREATE TABLE pricing.quotas (
            key               text        PRIMARY KEY CHECK (key ~ '^[a-z][a-z0-9_]{0,62}$'),
            display_name      text        NOT NULL,
            "limit"           bigint      NOT NULL CHECK ("limit" >= 0),
            period            text        NOT NULL CHECK (period IN ('daily', 'weekly', 'monthly')),
            time_zone         text        NOT NULL DEFAULT 'Asia/Kolkata',
            lifted_by_feature text        NOT NULL DEFAULT '',
            updated_at        timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute(
        """
        CREATE TABLE pricing.orders (
            id                  uuid        PRIMARY KEY,
            user_id             text        NOT NULL,
            pack_key            text        NOT NULL REFERENCES pricing.packs (key),
            -- what was bought, as it was when the order was created
            features            text[]      NOT NULL,
            duration_seconds    bigint,
            provider            text        NOT NULL
                                CHECK (provider IN ('razorpay', 'dev', 'google_play', 'app_store')),
            provider_order_id   text        NOT NULL,
            currency            text        NOT NULL,
            amount_minor        bigint      NOT NULL CHECK (amount_minor > 0),
            state               text        NOT NULL
                                CHECK (state IN ('created', 'paid', 'failed', 'refunded')),
            checkout_params     jsonb       NOT NULL DEFAULT '{}',
            provider_payment_id text        NOT NULL DEFAULT '',
            failure_reason      text        NOT NULL DEFAULT '',
            created_at          timestamptz NOT NULL DEFAULT now(),
            paid_at             timestamptz,
            updated_at          timestamptz NOT NULL DEFAULT now(),
            UNIQUE (provider, provider_order_id)
        )
        """
    )
    op.execute("CREATE INDEX orders_by_user ON pricing.orders (user_id, created_at DESC, id DESC)")
    op.execute(
        """
        CREATE TABLE pricing.user_features (
            id          uuid        PRIMARY KEY,
            user_id     text        NOT NULL,
            feature_key text        NOT NULL,
            pack_key    text        NOT NULL,
            order_id    uuid        REFERENCES pricing.orders (id),
            start_time  timestamptz NOT NULL,
            -- NULL: never lapses
            expire_time timestamptz,
            revoked_at  timestamptz,
            -- set by the expiry job once expire_time has passed
            expired_at  timestamptz,
            created_at  timestamptz NOT NULL DEFAULT now(),
            -- one grant per feature per order, however often the payment is reported
            UNIQUE (order_id, feature_key),
            CHECK (expire_time IS NULL OR expire_time > start_time)
        )
        """
    )
    op.execute(
        "CREATE INDEX user_features_current ON pricing.user_features (user_id, feature_key) "
        "WHERE revoked_at IS NULL"
    )
    op.execute(
        "CREATE INDEX user_features_to_expire ON pricing.user_features (expire_time) "
        "WHERE expired_at IS NULL AND revoked_at IS NULL AND expire_time IS NOT NULL"
    )
    op.execute(
        """
        CREATE TABLE pricing.quota_usage (
            user_id      text        NOT NULL,
            quota_key    text        NOT NULL,
            request_id   text        NOT NULL,
            window_start timestamptz NOT NULL,
            created_at   timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (user_id, quota_key, request_id)
        )
        """
    )
    op.execute("CREATE INDEX quota_usage_window ON pricing.quota_usage (user_id, quota_key, window_start)")
    op.execute(
        """
        CREATE TABLE pricing.webhook_events (
            provider    text        NOT NULL,
            event_id    text        NOT NULL,
            event_type  text        NOT NULL,
            received_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (provider, event_id)
        )
        """
    )
    _seed()


def _seed() -> None:
    # The launch catalog; admins change it later with the Upsert* RPCs.
    op.execute(
        """
        INSERT INTO pricing.features (key, display_name, description) VALUES
          ('receipts', 'Receipt photos', 'Attach a photo or PDF of the bill to an expense.'),
          ('export_pdf', 'PDF export', 'Export a group''s expenses and balances as a PDF.'),
          ('currency_conversion', 'Currency conversion', 'Settle up in one currency across currencies.'),
          ('recurring', 'Recurring expenses', 'Rent, subscriptions and bills that repeat on their own.'),
          ('unlimited_expenses', 'Unlimited expenses', 'No daily limit on new expenses.'),
          ('charts', 'Spending charts', 'Spending by category and month.')
        """
    )
    op.execute(
        """
        INSERT INTO pricing.packs
          (key, display_name, description, features, duration_seconds, price_inr_minor, other_prices,
           sort_order)
        VALUES
          ('trip_7d', 'Trip pack (7 days)', 'Everything a trip needs, for a week.',
           ARRAY['receipts', 'currency_conversion', 'unlimited_expenses', 'export_pdf'],
           604800, 4900, '{}', 10),
          ('pro_monthly', 'Pro (1 month)', 'Every paid feature for 30 days.',
           ARRAY['receipts', 'export_pdf', 'currency_conversion', 'recurring', 'unlimited_expenses',
                 'charts'],
           2592000, 9900, '{"USD": 199}', 20),
          ('pro_yearly', 'Pro (1 year)', 'Every paid feature for 365 days.',
           ARRAY['receipts', 'export_pdf', 'currency_conversion', 'recurring', 'unlimited_expenses',
                 'charts'],
           31536000, 79900, '{"USD": 1499}', 30)
        """
    )
    op.execute(
        """
        INSERT INTO pricing.quotas (key, display_name, "limit", period, time_zone, lifted_by_feature) VALUES
          ('expenses_per_day', 'Expenses per day', 20, 'daily', 'Asia/Kolkata', 'unlimited_expenses')
        """
    )


def downgrade() -> None:
    op.execute("DROP SCHEMA pricing CASCADE")
