"""summarize the log BRIN index so tick() stays fast

Revision ID: 0005
Revises: 0004
"""

from threadcast.migrations import apply_sql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    apply_sql("005_log_summaries.sql")


def downgrade() -> None:
    apply_sql("down/005_log_summaries.sql")
