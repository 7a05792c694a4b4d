"""ticket_app: presence on ticket channels (internal composition for agents only)

Revision ID: ticket_app_0003
Revises: ticket_app_0002
"""

# A delta: the same change is also made in sql/ticket_app.sql, and a fresh install applies that
# file and then this delta, so it is idempotent (create or replace, if not exists).
from threadcast.migrations import apply_sql

revision = "ticket_app_0003"
down_revision = "ticket_app_0002"
branch_labels = None
# The canonical file this revision leaves the schema at (tests/test_migrations.py).
canonical_sha256 = "a3242cbc06e4fdcfa5f7a30f3461275cdf8eb902ffdbd3fe5dc1d632cf887e82"
# register_channel()'s presence rule.
depends_on = "realtime_0005"


def upgrade() -> None:
    apply_sql("deltas/ticket_app_0003.sql")


def downgrade() -> None:
    apply_sql("deltas/down/ticket_app_0003.sql")
