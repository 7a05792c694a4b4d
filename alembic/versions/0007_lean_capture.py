"""lean capture: a generated capture function per realtime table, wake-ups checked per session

Revision ID: 0007
Revises: 0006
"""

from threadcast.migrations import apply_sql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    apply_sql("007_lean_capture.sql")


def downgrade() -> None:
    apply_sql("down/007_lean_capture.sql")
