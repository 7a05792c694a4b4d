"""ticket application: organisations, tickets, threads, notes, AI status, RLS

Revision ID: 0002
Revises: 0001
"""

from threadcast.migrations import apply_sql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    apply_sql("002_ticket_app.sql")


def downgrade() -> None:
    apply_sql("down/002_ticket_app.sql")
