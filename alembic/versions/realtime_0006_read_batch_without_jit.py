"""realtime: read_batch() runs without JIT (its disabled seq scans made PG 15 compile policies)

Revision ID: realtime_0006
Revises: realtime_0005
"""

# A delta: the same change is also made in sql/realtime.sql, and a fresh install applies that
# file and then this delta, so it is idempotent (alter function ... set).
from threadcast.migrations import apply_sql

revision = "realtime_0006"
down_revision = "realtime_0005"
branch_labels = None
# The canonical file this revision leaves the schema at (tests/test_migrations.py).
canonical_sha256 = "8b8c3f03d74d67926c4a4ad136371d8502d6e3336a54dfd8db923e2a7f2ef3f9"
depends_on = None


def upgrade() -> None:
    apply_sql("deltas/realtime_0006.sql")


def downgrade() -> None:
    apply_sql("deltas/down/realtime_0006.sql")
