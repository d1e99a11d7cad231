"""Owners belong to the commune whose register lists them (it decides who sees them).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 21:14:55.774150
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("owners", schema=None) as batch_op:
        batch_op.add_column(sa.Column("commune_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_owners_commune_id"), ["commune_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_owners_commune_id_admin_units"), "admin_units", ["commune_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("owners", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_owners_commune_id_admin_units"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_owners_commune_id"))
        batch_op.drop_column("commune_id")
