"""realtime: the stream's one-statement reads and authorizations take whole claims and granted roles

Revision ID: realtime_0004
Revises: realtime_0003
"""

# A delta: the same change is also made in sql/realtime.sql, and a fresh install applies that
# file and then this delta, so it is idempotent (create or replace, if not exists).
from threadcast.migrations import apply_sql

revision = "realtime_0004"
down_revision = "realtime_0003"
branch_labels = None
# The canonical file this revision leaves the schema at (tests/test_migrations.py).
canonical_sha256 = "2f660939abb45ec7ac67c7bff477124cb9cf4c566784c2d2a265c16434ccbf1c"
depends_on = None


def upgrade() -> None:
    apply_sql("deltas/realtime_0004.sql")


def downgrade() -> None:
    apply_sql("deltas/down/realtime_0004.sql")
