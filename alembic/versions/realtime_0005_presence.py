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
canonical_sha256 = "bb5658fc71e50525438c58b0849c24c607ae6d1564001924e99779a63f723fa9"
depends_on = None


def upgrade() -> None:
    apply_sql("deltas/realtime_0005.sql")


def downgrade() -> None:
    apply_sql("deltas/down/realtime_0005.sql")
