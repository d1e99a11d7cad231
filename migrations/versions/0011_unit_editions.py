"""Editions of the administrative units, supervision groups, and providers' tokens (issues 13 and 14).

A unit's code now names different versions over time (the 2026-04-30 changes reused codes): the unique
constraint on admin_units.code becomes a partial unique index over the open-ended versions. PostgreSQL drops
the constraint in place; SQLite cannot, and a batch copy of a table with a geometry column breaks its
SpatiaLite registration, so admin_units is rebuilt by hand: the geometry column is unregistered, the table
copied without the constraint, and the column registered and indexed again.

Staff who oversee several communes bind to a supervision group (users.supervision_group_id); a group is a
versioned, named set of communes. provider_tokens keeps Zalo's single-use refresh token across processes.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 15:20:00
"""

import re

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

UNIQUE_CODE = "CONSTRAINT uq_admin_units_code UNIQUE (code)"
OPEN_CODE = "valid_to IS NULL"


def _rebuild_sqlite_admin_units(unique_code: bool) -> None:
    """Copy admin_units into a table whose DDL has (or lacks) the unique code constraint."""
    bind = op.get_bind()
    ddl = bind.exec_driver_sql("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'admin_units'").scalar()
    ddl = re.sub(r"^CREATE TABLE \"?admin_units\"?", "CREATE TABLE admin_units_copy", ddl)
    ddl = re.sub(r",\s*" + re.escape(UNIQUE_CODE), "", ddl)
    if unique_code:
        ddl = re.sub(r"\)\s*$", f", \n\t{UNIQUE_CODE}\n)", ddl)
    indexes = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'admin_units' AND sql IS NOT NULL"
    ).scalars()
    indexes = list(indexes)
    for statement in (
        "SELECT DisableSpatialIndex('admin_units', 'boundary')",
        "DROP TABLE idx_admin_units_boundary",
        "SELECT DiscardGeometryColumn('admin_units', 'boundary')",
        ddl,
        "INSERT INTO admin_units_copy SELECT * FROM admin_units",
        "DROP TABLE admin_units",
        "ALTER TABLE admin_units_copy RENAME TO admin_units",
        "SELECT RecoverGeometryColumn('admin_units', 'boundary', 4326, 'MULTIPOLYGON', 'XY')",
        "SELECT CreateSpatialIndex('admin_units', 'boundary')",
        *indexes,
    ):
        bind.exec_driver_sql(statement)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite_admin_units(unique_code=False)
    else:
        op.drop_constraint("uq_admin_units_code", "admin_units", type_="unique")
    op.create_index("ix_admin_units_code", "admin_units", ["code"], unique=False)
    op.create_index(
        "uq_admin_units_open_code",
        "admin_units",
        ["code"],
        unique=True,
        sqlite_where=sa.text(OPEN_CODE),
        postgresql_where=sa.text(OPEN_CODE),
    )

    op.create_table(
        "supervision_groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("province_id", sa.Integer(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["province_id"], ["admin_units.id"], name=op.f("fk_supervision_groups_province_id_admin_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supervision_groups")),
    )
    op.create_index("ix_supervision_groups_code", "supervision_groups", ["code"], unique=False)
    op.create_index("ix_supervision_groups_province_id", "supervision_groups", ["province_id"], unique=False)
    op.create_index(
        "uq_supervision_groups_open_code",
        "supervision_groups",
        ["code"],
        unique=True,
        sqlite_where=sa.text(OPEN_CODE),
        postgresql_where=sa.text(OPEN_CODE),
    )
    op.create_table(
        "supervision_group_communes",
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("commune_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["commune_id"], ["admin_units.id"], name=op.f("fk_supervision_group_communes_commune_id_admin_units")
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["supervision_groups.id"],
            name=op.f("fk_supervision_group_communes_group_id_supervision_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("group_id", "commune_id", name=op.f("pk_supervision_group_communes")),
    )
    op.create_index(
        "ix_supervision_group_communes_commune_id", "supervision_group_communes", ["commune_id"], unique=False
    )
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("supervision_group_id", sa.Integer(), nullable=True))
        batch.create_index("ix_users_supervision_group_id", ["supervision_group_id"], unique=False)
        batch.create_foreign_key(
            "fk_users_supervision_group_id_supervision_groups",
            "supervision_groups",
            ["supervision_group_id"],
            ["id"],
        )

    op.create_table(
        "provider_tokens",
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("access_token", sa.Text(), nullable=False),
        sa.Column("refresh_token", sa.Text(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("provider", name=op.f("pk_provider_tokens")),
    )


def downgrade() -> None:
    """Refused where a code has several versions: the old schema cannot hold that history."""
    op.drop_table("provider_tokens")
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint("fk_users_supervision_group_id_supervision_groups", type_="foreignkey")
        batch.drop_index("ix_users_supervision_group_id")
        batch.drop_column("supervision_group_id")
    op.drop_index("ix_supervision_group_communes_commune_id", table_name="supervision_group_communes")
    op.drop_table("supervision_group_communes")
    op.drop_index("uq_supervision_groups_open_code", table_name="supervision_groups")
    op.drop_index("ix_supervision_groups_province_id", table_name="supervision_groups")
    op.drop_index("ix_supervision_groups_code", table_name="supervision_groups")
    op.drop_table("supervision_groups")
    op.drop_index("uq_admin_units_open_code", table_name="admin_units")
    op.drop_index("ix_admin_units_code", table_name="admin_units")
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite_admin_units(unique_code=True)
    else:
        op.create_unique_constraint("uq_admin_units_code", "admin_units", ["code"])
