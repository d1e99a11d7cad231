"""Footage requests, their per-owner assignments and the lenses each asks about.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 21:37:35.173116
"""

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_geospatial_table(
        "footage_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("commune_id", sa.Integer(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("case_ref", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("legal_basis", sa.String(length=500), nullable=False),
        sa.Column(
            "incident",
            Geometry(
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("radius_m", sa.Float(), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "draft",
                "open",
                "routed",
                "in_progress",
                "resolved",
                "cancelled",
                "expired",
                name="requeststatus",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("routed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lenses_considered", sa.Integer(), nullable=False),
        sa.Column("lenses_routed", sa.Integer(), nullable=False),
        sa.Column("lenses_skipped", sa.JSON(), nullable=False),
        sa.CheckConstraint("radius_m > 0 AND radius_m <= 2000", name=op.f("ck_footage_requests_radius_range")),
        sa.CheckConstraint("window_end > window_start", name=op.f("ck_footage_requests_window_order")),
        sa.ForeignKeyConstraint(
            ["commune_id"], ["admin_units.id"], name=op.f("fk_footage_requests_commune_id_admin_units")
        ),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], name=op.f("fk_footage_requests_created_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_footage_requests")),
    )
    with op.batch_alter_table("footage_requests", schema=None) as batch_op:
        batch_op.create_geospatial_index(
            "idx_footage_requests_incident", ["incident"], unique=False, postgresql_using="gist", postgresql_ops={}
        )
        batch_op.create_index(batch_op.f("ix_footage_requests_commune_id"), ["commune_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_footage_requests_status"), ["status"], unique=False)

    op.create_table(
        "assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "notified",
                "viewed",
                "consented",
                "declined",
                "no_footage",
                "footage_received",
                "closed",
                "expired",
                name="assignmentstatus",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("preservation_deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("distance_m", sa.Float(), nullable=False),
        sa.Column("covered_by_commitment", sa.Boolean(), nullable=False),
        sa.Column(
            "handover",
            sa.Enum("police_copy", "owner_upload", name="handover", native_enum=False, create_constraint=True),
            nullable=True,
        ),
        sa.Column("answer_note", sa.Text(), nullable=True),
        sa.Column("evidence_ref", sa.String(length=200), nullable=True),
        sa.Column("evidence_sha256", sa.String(length=64), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["owner_id"], ["owners.id"], name=op.f("fk_assignments_owner_id_owners")),
        sa.ForeignKeyConstraint(
            ["request_id"], ["footage_requests.id"], name=op.f("fk_assignments_request_id_footage_requests")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assignments")),
    )
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_assignments_owner_id"), ["owner_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_assignments_preservation_deadline"), ["preservation_deadline"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_assignments_request_id"), ["request_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_assignments_status"), ["status"], unique=False)

    op.create_table(
        "assignment_lenses",
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("lens_id", sa.Integer(), nullable=False),
        sa.Column("recorder_id", sa.Integer(), nullable=False),
        sa.Column("distance_m", sa.Float(), nullable=False),
        sa.Column("preservation_deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("partially_overwritten", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["assignment_id"],
            ["assignments.id"],
            name=op.f("fk_assignment_lenses_assignment_id_assignments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["lens_id"], ["lenses.id"], name=op.f("fk_assignment_lenses_lens_id_lenses")),
        sa.ForeignKeyConstraint(
            ["recorder_id"], ["recorders.id"], name=op.f("fk_assignment_lenses_recorder_id_recorders")
        ),
        sa.PrimaryKeyConstraint("assignment_id", "lens_id", name=op.f("pk_assignment_lenses")),
    )
    with op.batch_alter_table("assignment_lenses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_assignment_lenses_lens_id"), ["lens_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("assignment_lenses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_assignment_lenses_lens_id"))

    op.drop_table("assignment_lenses")
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_assignments_status"))
        batch_op.drop_index(batch_op.f("ix_assignments_request_id"))
        batch_op.drop_index(batch_op.f("ix_assignments_preservation_deadline"))
        batch_op.drop_index(batch_op.f("ix_assignments_owner_id"))

    op.drop_table("assignments")
    with op.batch_alter_table("footage_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_footage_requests_status"))
        batch_op.drop_index(batch_op.f("ix_footage_requests_commune_id"))
        batch_op.drop_geospatial_index("idx_footage_requests_incident", postgresql_using="gist", column_name="incident")

    op.drop_geospatial_table("footage_requests")
