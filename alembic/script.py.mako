"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}
"""

# A delta: the same change is also made in the canonical file (sql/realtime.sql or
# sql/ticket_app.sql). A fresh install runs the baseline, which applies the canonical file as it
# is now, then this delta, so the delta must be idempotent: `create or replace`, `if not
# exists`, `if exists`. tests/test_migrations.py checks both ways.
from threadcast.migrations import apply_sql

revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
branch_labels = ${repr(branch_labels)}
depends_on = ${repr(depends_on)}


def upgrade() -> None:
    apply_sql("deltas/${up_revision}.sql")


def downgrade() -> None:
    apply_sql("deltas/down/${up_revision}.sql")
