"""realtime: enable() derives the log's rule from a table's own RLS policies; check(); auth shim

Revision ID: realtime_0003
Revises: realtime_0002
"""

# A delta: the same change is also made in sql/realtime.sql, and a fresh install applies that
# file and then this delta, so it is idempotent (create or replace, if not exists).
from threadcast.migrations import apply_sql

revision = "realtime_0003"
down_revision = "realtime_0002"
branch_labels = None
# The canonical file this revision leaves the schema at (tests/test_migrations.py).
canonical_sha256 = "88dda41cae329036844ae9a54f5a8098d62568dd684c132a3851ebec1b79c390"
depends_on = None


def upgrade() -> None:
    apply_sql("deltas/realtime_0003.sql")


def downgrade() -> None:
    apply_sql("deltas/down/realtime_0003.sql")
