"""ticket_app baseline: the ticket application as sql/ticket_app.sql defines it

Revision ID: ticket_app_0001
Revises:
Depends on: realtime_0001
"""

from threadcast.migrations import apply_sql

revision = "ticket_app_0001"
down_revision = None
branch_labels = ("ticket_app",)
# The canonical file this revision leaves the schema at (tests/test_migrations.py).
canonical_sha256 = "aac7db0ef43b811a2e374e467b047e84cfeec6fbed18e47f7da820624b119479"
depends_on = "realtime_0001"


def upgrade() -> None:
    apply_sql("ticket_app.sql")


def downgrade() -> None:
    apply_sql("down/ticket_app.sql")
