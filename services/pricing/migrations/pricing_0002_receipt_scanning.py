"""pricing: the receipt_scanning feature in the Pro packs, and a free monthly scan quota.

Revision ID: pricing_0002
"""

from alembic import op

revision = "pricing_0002"
down_revision = "pricing_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        INSERT INTO pricing.features (key, display_name, description) VALUES
          ('receipt_scanning', 'Receipt scanning',
           'Photograph a bill and get its items, GST and total as a ready-to-split draft.')
        ON CONFLICT (key) DO NOTHING
        """
    )
    op.execute(
        """
        UPDATE pricing.packs SET features = array_append(features, 'receipt_scanning')
        WHERE key IN ('pro_monthly', 'pro_yearly') AND NOT 'receipt_scanning' = ANY (features)
        """
    )
    # A few free scans a month, counted per user in India's calendar month.
    op.execute(
        """
        INSERT INTO pricing.quotas (key, display_name, "limit", period, time_zone, lifted_by_feature) VALUES
          ('receipt_scans_per_month', 'Receipt scans per month', 3, 'monthly', 'Asia/Kolkata',
           'receipt_scanning')
        ON CONFLICT (key) DO NOTHING
        """
    )


def downgrade() -> None:
    op.execute("DELETE FROM pricing.quotas WHERE key = 'receipt_scans_per_month'")
    op.execute("UPDATE pricing.packs SET features = array_remove(features, 'receipt_scanning')")
    op.execute("DELETE FROM pricing.features WHERE key = 'receipt_scanning'")
