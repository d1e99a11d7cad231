"""Optimistic locking for registry writes (a version on lenses, recorders, owners, sites),
and the holder of each outbox claim, so a deliverer renews and releases only its own.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 08:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

VERSIONED = ("lenses", "recorders", "owners", "sites")


# Plain ALTER TABLE, not batch mode: SQLite (3.35+) adds and drops columns in place, while a batch
# rebuild of a table with a geometry column breaks its SpatiaLite registration and foreign keys.
def upgrade() -> None:
    for table in VERSIONED:
        op.add_column(table, sa.Column("version", sa.Integer(), server_default="1", nullable=False))
    op.add_column("outbox_messages", sa.Column("lease_holder", sa.String(length=100), nullable=True))


def downgrade() -> None:
    op.drop_column("outbox_messages", "lease_holder")
    for table in reversed(VERSIONED):
        op.drop_column(table, "version")
