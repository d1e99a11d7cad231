"""Issue 15's stored facts: each user's page language, register imports that run in the background and
report their progress, and the full commitment texts signatures point to.

users.language and sharing_commitments.text_id are nullable columns added in batch mode (SQLite rebuilds
users, which has no geometry column; sharing_commitments neither). Old commitments keep text_id NULL: what
they signed is their text_version and the audit trail.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 18:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

IMPORT_JOB_STATES = ("queued", "running", "imported", "rejected", "failed")


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("language", sa.String(length=8), nullable=True))

    op.create_table(
        "commitment_texts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commitment_texts")),
        sa.UniqueConstraint("version", "language", name=op.f("uq_commitment_texts_version")),
    )
    with op.batch_alter_table("sharing_commitments") as batch:
        batch.add_column(sa.Column("text_id", sa.Integer(), nullable=True))
        batch.create_index("ix_sharing_commitments_text_id", ["text_id"], unique=False)
        batch.create_foreign_key(
            "fk_sharing_commitments_text_id_commitment_texts", "commitment_texts", ["text_id"], ["id"]
        )

    op.create_table(
        "import_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("stored_path", sa.String(length=500), nullable=True),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(*IMPORT_JOB_STATES, name="importjobstatus", native_enum=False, create_constraint=True, length=8),
            nullable=False,
        ),
        sa.Column("rows_total", sa.Integer(), nullable=True),
        sa.Column("rows_done", sa.Integer(), nullable=False),
        sa.Column("report", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("leased_until", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_import_jobs_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_jobs")),
    )
    op.create_index("ix_import_jobs_user_id", "import_jobs", ["user_id"], unique=False)
    op.create_index("ix_import_jobs_status", "import_jobs", ["status"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_import_jobs_status", table_name="import_jobs")
    op.drop_index("ix_import_jobs_user_id", table_name="import_jobs")
    op.drop_table("import_jobs")
    with op.batch_alter_table("sharing_commitments") as batch:
        batch.drop_constraint("fk_sharing_commitments_text_id_commitment_texts", type_="foreignkey")
        batch.drop_index("ix_sharing_commitments_text_id")
        batch.drop_column("text_id")
    op.drop_table("commitment_texts")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("language")
