"""Registry schema: admin units, sites, owners, recorders, lenses, commitments, users, audit.

Revision ID: 0001
Revises:
Create Date: 2026-11-27 21:05:05.059663
"""

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.create_geospatial_table(
        "admin_units",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "level",
            sa.Enum("province", "district", "commune", name="adminlevel", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column(
            "boundary",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(["parent_id"], ["admin_units.id"], name=op.f("fk_admin_units_parent_id_admin_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_units")),
        sa.UniqueConstraint("code", name=op.f("uq_admin_units_code")),
    )
    with op.batch_alter_table("admin_units", schema=None) as batch_op:
        batch_op.create_geospatial_index(
            "idx_admin_units_boundary", ["boundary"], unique=False, postgresql_using="gist", postgresql_ops={}
        )
        batch_op.create_index(batch_op.f("ix_admin_units_level"), ["level"], unique=False)
        batch_op.create_index(batch_op.f("ix_admin_units_parent_id"), ["parent_id"], unique=False)

    op.create_table(
        "owners",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("household", "agency", "business", name="ownerkind", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("address", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_owners")),
        sa.UniqueConstraint("external_id", name=op.f("uq_owners_external_id")),
    )
    with op.batch_alter_table("owners", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_owners_kind"), ["kind"], unique=False)

    op.create_table(
        "sharing_commitments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("all_recorders", sa.Boolean(), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "channel",
            sa.Enum("paper", "web", name="commitmentchannel", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column("text_version", sa.String(length=32), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["owner_id"], ["owners.id"], name=op.f("fk_sharing_commitments_owner_id_owners")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sharing_commitments")),
    )
    with op.batch_alter_table("sharing_commitments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sharing_commitments_owner_id"), ["owner_id"], unique=False)

    op.create_geospatial_table(
        "sites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("commune_id", sa.Integer(), nullable=False),
        sa.Column(
            "point",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(["commune_id"], ["admin_units.id"], name=op.f("fk_sites_commune_id_admin_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sites")),
        sa.UniqueConstraint("code", name=op.f("uq_sites_code")),
    )
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.create_geospatial_index(
            "idx_sites_point", ["point"], unique=False, postgresql_using="gist", postgresql_ops={}
        )
        batch_op.create_index(batch_op.f("ix_sites_commune_id"), ["commune_id"], unique=False)

    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("full_name", sa.String(length=200), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "admin",
                "province_staff",
                "district_staff",
                "commune_police",
                name="role",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("admin_unit_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["admin_unit_id"], ["admin_units.id"], name=op.f("fk_users_admin_unit_id_admin_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_users_admin_unit_id"), ["admin_unit_id"], unique=False)

    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_api_tokens_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_tokens_user_id"), ["user_id"], unique=False)

    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_user_id", sa.Integer(), nullable=True),
        sa.Column("actor_label", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("entity_type", sa.String(length=64), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=True),
        sa.Column("from_state", sa.String(length=32), nullable=True),
        sa.Column("to_state", sa.String(length=32), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["actor_user_id"], ["users.id"], name=op.f("fk_audit_events_actor_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_events_action"), ["action"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_events_actor_user_id"), ["actor_user_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_events_occurred_at"), ["occurred_at"], unique=False)

    op.create_geospatial_table(
        "recorders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=True),
        sa.Column("commune_id", sa.Integer(), nullable=True),
        sa.Column(
            "point",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("retention_days", sa.Integer(), nullable=False),
        sa.Column("make", sa.String(length=100), nullable=True),
        sa.Column("model", sa.String(length=100), nullable=True),
        sa.Column(
            "status",
            sa.Enum("active", "offline", "removed", name="recorderstatus", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.CheckConstraint("retention_days BETWEEN 1 AND 365", name=op.f("ck_recorders_retention_days_range")),
        sa.ForeignKeyConstraint(["commune_id"], ["admin_units.id"], name=op.f("fk_recorders_commune_id_admin_units")),
        sa.ForeignKeyConstraint(["owner_id"], ["owners.id"], name=op.f("fk_recorders_owner_id_owners")),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_recorders_site_id_sites")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recorders")),
        sa.UniqueConstraint("external_id", name=op.f("uq_recorders_external_id")),
    )
    with op.batch_alter_table("recorders", schema=None) as batch_op:
        batch_op.create_geospatial_index(
            "idx_recorders_point", ["point"], unique=False, postgresql_using="gist", postgresql_ops={}
        )
        batch_op.create_index(batch_op.f("ix_recorders_commune_id"), ["commune_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_recorders_owner_id"), ["owner_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_recorders_site_id"), ["site_id"], unique=False)

    op.create_table(
        "commitment_recorders",
        sa.Column("commitment_id", sa.Integer(), nullable=False),
        sa.Column("recorder_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["commitment_id"],
            ["sharing_commitments.id"],
            name=op.f("fk_commitment_recorders_commitment_id_sharing_commitments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["recorder_id"],
            ["recorders.id"],
            name=op.f("fk_commitment_recorders_recorder_id_recorders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("commitment_id", "recorder_id", name=op.f("pk_commitment_recorders")),
    )
    with op.batch_alter_table("commitment_recorders", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_commitment_recorders_recorder_id"), ["recorder_id"], unique=False)

    op.create_geospatial_table(
        "lenses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=False),
        sa.Column("recorder_id", sa.Integer(), nullable=False),
        sa.Column("commune_id", sa.Integer(), nullable=True),
        sa.Column(
            "point",
            Geometry(
                geometry_type="POINT",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("bearing_deg", sa.Float(), nullable=True),
        sa.Column("fov_deg", sa.Float(), nullable=False),
        sa.Column("range_m", sa.Float(), nullable=False),
        sa.Column("height_m", sa.Float(), nullable=True),
        sa.Column(
            "kind",
            sa.Enum("fixed", "dome", "ptz", name="lenskind", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum("active", "offline", "removed", name="lensstatus", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.CheckConstraint(
            "bearing_deg IS NULL OR (bearing_deg >= 0 AND bearing_deg < 360)", name=op.f("ck_lenses_bearing_range")
        ),
        sa.CheckConstraint("fov_deg > 0 AND fov_deg <= 360", name=op.f("ck_lenses_fov_range")),
        sa.CheckConstraint("range_m > 0", name=op.f("ck_lenses_range_positive")),
        sa.ForeignKeyConstraint(["commune_id"], ["admin_units.id"], name=op.f("fk_lenses_commune_id_admin_units")),
        sa.ForeignKeyConstraint(["recorder_id"], ["recorders.id"], name=op.f("fk_lenses_recorder_id_recorders")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lenses")),
        sa.UniqueConstraint("external_id", name=op.f("uq_lenses_external_id")),
    )
    with op.batch_alter_table("lenses", schema=None) as batch_op:
        batch_op.create_geospatial_index(
            "idx_lenses_point", ["point"], unique=False, postgresql_using="gist", postgresql_ops={}
        )
        batch_op.create_index(batch_op.f("ix_lenses_commune_id"), ["commune_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_lenses_recorder_id"), ["recorder_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_lenses_status"), ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("lenses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lenses_status"))
        batch_op.drop_index(batch_op.f("ix_lenses_recorder_id"))
        batch_op.drop_index(batch_op.f("ix_lenses_commune_id"))
        batch_op.drop_geospatial_index("idx_lenses_point", postgresql_using="gist", column_name="point")

    op.drop_geospatial_table("lenses")
    with op.batch_alter_table("commitment_recorders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_commitment_recorders_recorder_id"))

    op.drop_table("commitment_recorders")
    with op.batch_alter_table("recorders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recorders_site_id"))
        batch_op.drop_index(batch_op.f("ix_recorders_owner_id"))
        batch_op.drop_index(batch_op.f("ix_recorders_commune_id"))
        batch_op.drop_geospatial_index("idx_recorders_point", postgresql_using="gist", column_name="point")

    op.drop_geospatial_table("recorders")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_events_occurred_at"))
        batch_op.drop_index(batch_op.f("ix_audit_events_actor_user_id"))
        batch_op.drop_index(batch_op.f("ix_audit_events_action"))

    op.drop_table("audit_events")
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_tokens_user_id"))

    op.drop_table("api_tokens")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_users_admin_unit_id"))

    op.drop_table("users")
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sites_commune_id"))
        batch_op.drop_geospatial_index("idx_sites_point", postgresql_using="gist", column_name="point")

    op.drop_geospatial_table("sites")
    with op.batch_alter_table("sharing_commitments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sharing_commitments_owner_id"))

    op.drop_table("sharing_commitments")
    with op.batch_alter_table("owners", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_owners_kind"))

    op.drop_table("owners")
    with op.batch_alter_table("admin_units", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_admin_units_parent_id"))
        batch_op.drop_index(batch_op.f("ix_admin_units_level"))
        batch_op.drop_geospatial_index("idx_admin_units_boundary", postgresql_using="gist", column_name="boundary")

    op.drop_geospatial_table("admin_units")
