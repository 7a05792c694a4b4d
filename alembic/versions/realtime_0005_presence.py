"""realtime: presence (an unlogged table and NOTIFY; track, untrack, read as each viewer)

Revision ID: realtime_0005
Revises: realtime_0004
"""

# A delta: the same change is also made in sql/realtime.sql, and a fresh install applies that
# file and then this delta, so it is idempotent (create or replace, if not exists).
from threadcast.migrations import apply_sql

revision = "realtime_0005"
down_revision = "realtime_0004"
branch_labels = None
# The canonical file this revision leaves the schema at (tests/test_migrations.py).
canonical_sha256 = "4d99e3fa3099eebee835d421a54e1590b0527a285641085e5b2de7c776e977ad"
depends_on = None


def upgrade() -> None:
    apply_sql("deltas/realtime_0005.sql")


def downgrade() -> None:
    apply_sql("deltas/down/realtime_0005.sql")
