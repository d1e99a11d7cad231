"""Each owner's message language: the language their SMS, Zalo messages and e-mails are written in, and their
link's page opens in.

owners.language is a nullable column (None: Vietnamese), added and dropped with a plain ALTER TABLE on both backends, so
SQLite keeps the owners table and the figures' triggers on it (migration 0014).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 22:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("owners", sa.Column("language", sa.String(length=8), nullable=True))


def downgrade() -> None:
    op.drop_column("owners", "language")
