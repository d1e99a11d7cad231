"""Resumable clip uploads (tus) and what a clip keeps for the evidence trail: who uploaded it, when it started,
the recorder's clock offset, and when retention deleted its file.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-12 09:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # footage_clips has no geometry, so batch mode (a table copy on SQLite) is safe for it; it is altered
    # before clip_uploads points at it.
    with op.batch_alter_table("footage_clips", schema=None) as batch_op:
        batch_op.add_column(sa.Column("upload_started_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("uploaded_by", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("uploader_user_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("recorder_time_shown", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("clock_checked_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("clock_offset_seconds", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_footage_clips_uploader_user_id_users"), "users", ["uploader_user_id"], ["id"]
        )

    op.create_table(
        "clip_uploads",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("owner_link_id", sa.Integer(), nullable=True),
        sa.Column("uploader_user_id", sa.Integer(), nullable=True),
        sa.Column("uploaded_by", sa.String(length=200), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("length", sa.BigInteger(), nullable=False),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("upload_metadata", sa.JSON(), nullable=False),
        sa.Column("recorder_time_shown", sa.DateTime(timezone=True), nullable=True),
        sa.Column("clock_checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("clock_offset_seconds", sa.Float(), nullable=True),
        sa.Column("partial_path", sa.String(length=500), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "receiving",
                "complete",
                "refused",
                "terminated",
                "expired",
                name="uploadstate",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("refusal", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("clip_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["assignment_id"], ["assignments.id"], name=op.f("fk_clip_uploads_assignment_id_assignments")
        ),
        sa.ForeignKeyConstraint(["clip_id"], ["footage_clips.id"], name=op.f("fk_clip_uploads_clip_id_footage_clips")),
        sa.ForeignKeyConstraint(
            ["owner_link_id"], ["owner_links.id"], name=op.f("fk_clip_uploads_owner_link_id_owner_links")
        ),
        sa.ForeignKeyConstraint(
            ["uploader_user_id"], ["users.id"], name=op.f("fk_clip_uploads_uploader_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clip_uploads")),
    )
    with op.batch_alter_table("clip_uploads", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_clip_uploads_assignment_id"), ["assignment_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_clip_uploads_expires_at"), ["expires_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_clip_uploads_state"), ["state"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("clip_uploads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_clip_uploads_state"))
        batch_op.drop_index(batch_op.f("ix_clip_uploads_expires_at"))
        batch_op.drop_index(batch_op.f("ix_clip_uploads_assignment_id"))

    op.drop_table("clip_uploads")

    with op.batch_alter_table("footage_clips", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_footage_clips_uploader_user_id_users"), type_="foreignkey")
        batch_op.drop_column("deleted_at")
        batch_op.drop_column("clock_offset_seconds")
        batch_op.drop_column("clock_checked_at")
        batch_op.drop_column("recorder_time_shown")
        batch_op.drop_column("uploader_user_id")
        batch_op.drop_column("uploaded_by")
        batch_op.drop_column("upload_started_at")
