"""The owner loop: owner links and clips, the notification outbox, the scheduler lease,
reminder and renewal bookkeeping, and the commune police phone shown to owners.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 22:03:05.411637
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scheduler_leases",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_scheduler_leases")),
    )
    op.create_table(
        "footage_clips",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("stored_path", sa.String(length=500), nullable=False),
        sa.Column("original_name", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["assignment_id"], ["assignments.id"], name=op.f("fk_footage_clips_assignment_id_assignments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_footage_clips")),
    )
    with op.batch_alter_table("footage_clips", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_footage_clips_assignment_id"), ["assignment_id"], unique=False)

    op.create_table(
        "outbox_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column(
            "channel",
            sa.Enum("webhook", "email", name="channel", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column("recipient", sa.String(length=254), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=100), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=True),
        sa.Column(
            "status",
            sa.Enum("pending", "sent", "dead", name="messagestatus", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("leased_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["assignment_id"], ["assignments.id"], name=op.f("fk_outbox_messages_assignment_id_assignments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_messages")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_outbox_messages_idempotency_key")),
    )
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_messages_assignment_id"), ["assignment_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_outbox_messages_next_attempt_at"), ["next_attempt_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_outbox_messages_status"), ["status"], unique=False)

    op.create_table(
        "owner_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "purpose",
            sa.Enum("assignment", "commitment", name="linkpurpose", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=True),
        sa.Column("commitment_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_viewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["assignment_id"], ["assignments.id"], name=op.f("fk_owner_links_assignment_id_assignments")
        ),
        sa.ForeignKeyConstraint(
            ["commitment_id"], ["sharing_commitments.id"], name=op.f("fk_owner_links_commitment_id_sharing_commitments")
        ),
        sa.ForeignKeyConstraint(["owner_id"], ["owners.id"], name=op.f("fk_owner_links_owner_id_owners")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_owner_links")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_owner_links_token_hash")),
    )
    with op.batch_alter_table("owner_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_owner_links_assignment_id"), ["assignment_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_owner_links_owner_id"), ["owner_id"], unique=False)

    with op.batch_alter_table("admin_units", schema=None) as batch_op:
        batch_op.add_column(sa.Column("police_phone", sa.String(length=32), nullable=True))

    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_reminded_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table("sharing_commitments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("renewal_invited_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sharing_commitments", schema=None) as batch_op:
        batch_op.drop_column("renewal_invited_at")

    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.drop_column("escalated_at")
        batch_op.drop_column("last_reminded_at")

    # Not in batch mode: on SQLite that copies the table, which SpatiaLite's geometry triggers refuse.
    op.drop_column("admin_units", "police_phone")

    with op.batch_alter_table("owner_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_owner_links_owner_id"))
        batch_op.drop_index(batch_op.f("ix_owner_links_assignment_id"))

    op.drop_table("owner_links")
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_messages_status"))
        batch_op.drop_index(batch_op.f("ix_outbox_messages_next_attempt_at"))
        batch_op.drop_index(batch_op.f("ix_outbox_messages_assignment_id"))

    op.drop_table("outbox_messages")
    with op.batch_alter_table("footage_clips", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_footage_clips_assignment_id"))

    op.drop_table("footage_clips")
    op.drop_table("scheduler_leases")
