"""realtime: read_batch() evaluates each identity's rules once per row (was twice)

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
canonical_sha256 = "a5b34050ea6bce0bf9b70047dbc6d9de02f38491cf377ef8df489160b0407743"
depends_on = None


def upgrade() -> None:
    apply_sql("deltas/realtime_0006.sql")


def downgrade() -> None:
    apply_sql("deltas/down/realtime_0006.sql")
