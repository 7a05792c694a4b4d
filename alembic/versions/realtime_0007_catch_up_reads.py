"""realtime: cheaper catch-ups (read_batch() runs rules once; positions carry change kinds)

Revision ID: realtime_0007
Revises: realtime_0006
"""

# A delta: the same change is also made in sql/realtime.sql, and a fresh install applies that
# file and then this delta, so it is idempotent (create or replace).
from threadcast.migrations import apply_sql

revision = "realtime_0007"
down_revision = "realtime_0006"
branch_labels = None
# The canonical file this revision leaves the schema at (tests/test_migrations.py).
canonical_sha256 = "8f32102bace627de1b6afea58ea0d7ab7825a7be9f7986070b0a9466364c613d"
depends_on = None


def upgrade() -> None:
    apply_sql("deltas/realtime_0007.sql")


def downgrade() -> None:
    apply_sql("deltas/down/realtime_0007.sql")
