"""realtime baseline: the engine as sql/realtime.sql defines it

Revision ID: realtime_0001
Revises:
"""

from threadcast.migrations import apply_sql

revision = "realtime_0001"
down_revision = None
branch_labels = ("realtime",)
# The canonical file this revision leaves the schema at (tests/test_migrations.py).
canonical_sha256 = "2e00ea765a19c39fce10fc056404548c6abbfc322f3d3dd134bddb26b596cde6"
depends_on = None


def upgrade() -> None:
    apply_sql("realtime.sql")


def downgrade() -> None:
    apply_sql("down/realtime.sql")
