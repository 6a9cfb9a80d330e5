"""The outbox keeps the trace of the request that wrote each event (W3C traceparent),
so the relay's publish and the consumers' handling join that trace.

Revision ID: kit_0002
"""

from alembic import op

revision = "kit_0002"
down_revision = "kit_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE kit.outbox ADD COLUMN traceparent text")


def downgrade() -> None:
    op.execute("ALTER TABLE kit.outbox DROP COLUMN traceparent")
