"""realtime: read_batch() runs without JIT (its disabled seq scans made PG 15 compile policies)

Revision ID: realtime_0005
Revises: realtime_0004
"""

# A delta: the same change is also made in sql/realtime.sql, and a fresh install applies that
# file and then this delta, so it is idempotent (alter function ... set).
from threadcast.migrations import apply_sql

revision = "realtime_0005"
down_revision = "realtime_0004"
branch_labels = None
# The canonical file this revision leaves the schema at (tests/test_migrations.py).
canonical_sha256 = "1fc83a6e3dbd60aec4bd6c94112bdb308782b75ca4167eb3e3671ce12b76e6be"
depends_on = None


def upgrade() -> None:
    apply_sql("deltas/realtime_0005.sql")


def downgrade() -> None:
    apply_sql("deltas/down/realtime_0005.sql")
