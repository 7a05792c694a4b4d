"""privileges: definer functions on pg_catalog, pg_temp; grants; captures refuse other tables

Revision ID: 0010
Revises: 0009
"""

from threadcast.migrations import apply_sql

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    apply_sql("010_privileges.sql")


def downgrade() -> None:
    apply_sql("down/010_privileges.sql")
