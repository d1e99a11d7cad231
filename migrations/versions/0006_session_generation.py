"""A session generation on each account: the login cookie carries it, and logout, deactivation and a password
change bump it, so every cookie issued before stops working at once, on every gunicorn worker.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08 09:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


# Plain ALTER TABLE, not batch mode (see 0005).
def upgrade() -> None:
    op.add_column("users", sa.Column("session_generation", sa.Integer(), server_default="1", nullable=False))


def downgrade() -> None:
    op.drop_column("users", "session_generation")
