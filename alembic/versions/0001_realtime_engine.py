"""realtime engine: log, ticks, capture triggers, RLS-filtered reads

Revision ID: 0001
Revises:
"""

from threadcast.migrations import apply_sql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    apply_sql("001_realtime_engine.sql")


def downgrade() -> None:
    apply_sql("down/001_realtime_engine.sql")
