"""capture without SET search_path: generated capture functions qualify every name instead

Revision ID: 0008
Revises: 0007
"""

from threadcast.migrations import apply_sql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    apply_sql("008_capture_without_set.sql")


def downgrade() -> None:
    apply_sql("down/008_capture_without_set.sql")
