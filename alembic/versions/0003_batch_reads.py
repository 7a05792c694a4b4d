"""batch reads: one statement reads a batch for every identity

Revision ID: 0003
Revises: 0002
"""

from threadcast.migrations import apply_sql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    apply_sql("003_batch_reads.sql")


def downgrade() -> None:
    apply_sql("down/003_batch_reads.sql")
