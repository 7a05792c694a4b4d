"""cheaper relay: generic plans in read_batch(), finer BRIN for tick(), advance(), authorize()

Revision ID: 0006
Revises: 0005
"""

from threadcast.migrations import apply_sql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    apply_sql("006_cheaper_relay.sql")


def downgrade() -> None:
    apply_sql("down/006_cheaper_relay.sql")
