"""realtime: positions_after() pages through a large tick in time proportional to the page

Revision ID: realtime_0002
Revises: realtime_0001
"""

# A delta: the same change is also made in sql/realtime.sql, and a fresh install applies that
# file and then this delta, so it is idempotent (create or replace).
from threadcast.migrations import apply_sql

revision = "realtime_0002"
down_revision = "realtime_0001"
branch_labels = None
# The canonical file this revision leaves the schema at (tests/test_migrations.py).
canonical_sha256 = "a070a1b5d9893261144322109b868219f77d7dd547d9f1de1b93e1107a654910"
depends_on = None


def upgrade() -> None:
    apply_sql("deltas/realtime_0002.sql")


def downgrade() -> None:
    apply_sql("deltas/down/realtime_0002.sql")
