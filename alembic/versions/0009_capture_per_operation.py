"""capture per operation: an insert and a delete function per table, each doing less per statement

Revision ID: 0009
Revises: 0008
"""

from threadcast.migrations import apply_sql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    apply_sql("009_capture_per_operation.sql")


def downgrade() -> None:
    apply_sql("down/009_capture_per_operation.sql")
