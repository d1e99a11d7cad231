"""Personal data breach records (issue 17): what happened, when it was discovered (the 72-hour clock to A05),
whose data, and the notification.

Two new tables, no change to existing ones, so both backends create and drop them the same way.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 22:45:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

BREACH_STATES = ("open", "notified", "closed")


def upgrade() -> None:
    op.create_table(
        "breaches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("discovered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data_categories", sa.JSON(), nullable=False),
        sa.Column("affected_description", sa.Text(), nullable=True),
        sa.Column("affected_count", sa.Integer(), nullable=True),
        sa.Column("likely_consequences", sa.Text(), nullable=True),
        sa.Column("measures", sa.Text(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(*BREACH_STATES, name="breachstatus", native_enum=False, create_constraint=True, length=8),
            nullable=False,
        ),
        sa.Column("notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("notification_reference", sa.Text(), nullable=True),
        sa.Column("late_reason", sa.Text(), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(["recorded_by_id"], ["users.id"], name=op.f("fk_breaches_recorded_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_breaches")),
    )
    op.create_index("ix_breaches_discovered_at", "breaches", ["discovered_at"], unique=False)
    op.create_index("ix_breaches_recorded_by_id", "breaches", ["recorded_by_id"], unique=False)
    op.create_index("ix_breaches_status", "breaches", ["status"], unique=False)
    op.create_table(
        "breach_owners",
        sa.Column("breach_id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["breach_id"], ["breaches.id"], name=op.f("fk_breach_owners_breach_id_breaches"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["owners.id"], name=op.f("fk_breach_owners_owner_id_owners"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("breach_id", "owner_id", name=op.f("pk_breach_owners")),
    )
    op.create_index("ix_breach_owners_owner_id", "breach_owners", ["owner_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_breach_owners_owner_id", table_name="breach_owners")
    op.drop_table("breach_owners")
    op.drop_index("ix_breaches_status", table_name="breaches")
    op.drop_index("ix_breaches_recorded_by_id", table_name="breaches")
    op.drop_index("ix_breaches_discovered_at", table_name="breaches")
    op.drop_table("breaches")
