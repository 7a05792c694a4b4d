"""UPDATE events judged on every row they reveal

Revision ID: 0004
Revises: 0003
"""

from threadcast.migrations import apply_sql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    apply_sql("004_update_visibility.sql")


def downgrade() -> None:
    apply_sql("down/004_update_visibility.sql")
