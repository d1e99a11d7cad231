"""Timed routes (issue 18, item 1): each assignment lens's own window, and the request's route timing.

Added columns only, all nullable (null: the request's window, an untimed incident), with op.add_column and
op.drop_column: no table is recreated.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-01 23:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

LENS_WINDOW = ("window_start", "window_end")


def upgrade() -> None:
    for column in LENS_WINDOW:
        op.add_column("assignment_lenses", sa.Column(column, sa.DateTime(timezone=True), nullable=True))
    op.add_column("footage_requests", sa.Column("route_timing", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("footage_requests", "route_timing")
    for column in LENS_WINDOW:
        op.drop_column("assignment_lenses", column)
