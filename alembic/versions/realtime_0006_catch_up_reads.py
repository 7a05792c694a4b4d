"""realtime: cheaper catch-ups (read_batch() runs rules once; positions carry change kinds)

Revision ID: realtime_0006
Revises: realtime_0005
"""

# A delta: the same change is also made in sql/realtime.sql, and a fresh install applies that
# file and then this delta, so it is idempotent (create or replace).
from threadcast.migrations import apply_sql

revision = "realtime_0006"
down_revision = "realtime_0005"
branch_labels = None
# The canonical file this revision leaves the schema at (tests/test_migrations.py).
canonical_sha256 = "bbf111fbd8070cf03d01abc09b1ac0dd6c9e87479b0a7c80f129f56b2f2471bd"
depends_on = None


def upgrade() -> None:
    apply_sql("deltas/realtime_0006.sql")


def downgrade() -> None:
    apply_sql("deltas/down/realtime_0006.sql")
