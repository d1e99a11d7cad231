"""Data-subject requests (issue 17): an owner's request to see, correct, restrict or delete their data, with its
legal clocks (acknowledge by, complete by, one extension) and how it ended.

One new table, no change to existing ones (the owners table and its figures' triggers stay as 0014 made them).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01 23:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

KINDS = ("access", "correction", "restriction", "deletion")
STATES = ("received", "acknowledged", "completed", "refused")
CHANNELS = ("owner_link", "in_person", "phone", "paper", "email")
USER_COLUMNS = ("filed_by_user_id", "acknowledged_by_user_id", "extended_by_user_id", "closed_by_user_id")


def _enum(values: tuple[str, ...], name: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=max(map(len, values)))


def upgrade() -> None:
    op.create_table(
        "subject_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("kind", _enum(KINDS, "subjectrequestkind"), nullable=False),
        sa.Column("status", _enum(STATES, "subjectrequeststatus"), nullable=False),
        sa.Column("channel", _enum(CHANNELS, "subjectrequestchannel"), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("filed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("filed_by_user_id", sa.Integer(), nullable=True),
        sa.Column("filed_through_link_id", sa.Integer(), nullable=True),
        sa.Column("processor_involved", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("acknowledge_by", sa.DateTime(timezone=True), nullable=False),
        sa.Column("complete_by", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by_user_id", sa.Integer(), nullable=True),
        sa.Column("extended_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("extension_reason", sa.Text(), nullable=True),
        sa.Column("extended_by_user_id", sa.Integer(), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by_user_id", sa.Integer(), nullable=True),
        sa.Column("outcome_note", sa.Text(), nullable=True),
        sa.Column("corrected_fields", sa.JSON(), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["owners.id"], name=op.f("fk_subject_requests_owner_id_owners")),
        sa.ForeignKeyConstraint(
            ["filed_through_link_id"],
            ["owner_links.id"],
            name=op.f("fk_subject_requests_filed_through_link_id_owner_links"),
        ),
        *(
            sa.ForeignKeyConstraint([column], ["users.id"], name=op.f(f"fk_subject_requests_{column}_users"))
            for column in USER_COLUMNS
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subject_requests")),
    )
    for column in ("owner_id", "status", "acknowledge_by", "complete_by"):
        op.create_index(f"ix_subject_requests_{column}", "subject_requests", [column], unique=False)


def downgrade() -> None:
    for column in ("complete_by", "acknowledge_by", "status", "owner_id"):
        op.drop_index(f"ix_subject_requests_{column}", table_name="subject_requests")
    op.drop_table("subject_requests")
