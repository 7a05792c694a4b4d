"""ticket_app: the live inbox (tickets realtime on org-tickets:<org>, with a version)

Revision ID: ticket_app_0002
Revises: ticket_app_0001
"""

# A delta: the same change is also made in sql/ticket_app.sql, and a fresh install applies that
# file and then this delta, so it is idempotent (create or replace, if not exists).
from threadcast.migrations import apply_sql

revision = "ticket_app_0002"
down_revision = "ticket_app_0001"
branch_labels = None
# The canonical file this revision leaves the schema at (tests/test_migrations.py).
canonical_sha256 = "d5d10ee94b542eb25c3d8207a3398f16666759beb0dde49767e11897b22f3dc4"
depends_on = None


def upgrade() -> None:
    apply_sql("deltas/ticket_app_0002.sql")


def downgrade() -> None:
    apply_sql("deltas/down/ticket_app_0002.sql")
