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
canonical_sha256 = "98b3ccb87433af36efa260f20a0c31215d5b98f46dc27823c427f4cb7ed15f70"
depends_on = None


def upgrade() -> None:
    apply_sql("deltas/realtime_0006.sql")


def downgrade() -> None:
    apply_sql("deltas/down/realtime_0006.sql")
