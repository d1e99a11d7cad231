"""Issue 18 item 3: how much of each commune the cameras see, and the road layer it is measured against.

commune_coverage holds each commune's covered area and road length, coverage_marks the communes a change touched
since, coverage_drawings the union of the fields of view per zoom band as GeoJSON text, roads the loaded road
layer (a LineString per row, spatially indexed). A trigger marks a commune whose boundary changes; the commune
figures' recount marks the communes whose lenses or commitments changed (services/commune_figures.py). New
tables only, and a trigger on admin_units: no table carrying the 0014 triggers is recreated.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-02 07:30:00
"""

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

MARK_BOUNDARY = "INSERT INTO coverage_marks (commune_id) VALUES (NEW.id)"


def upgrade() -> None:
    op.create_table(
        "commune_coverage",
        sa.Column("commune_id", sa.Integer(), autoincrement=False, nullable=False),
        *(sa.Column(name, sa.Float(), nullable=False) for name in ("area_km2", "seen_km2", "shared_seen_km2")),
        *(sa.Column(name, sa.Float(), nullable=True) for name in ("road_km", "road_seen_km", "road_shared_seen_km")),
        *(sa.Column(name, sa.Float(), nullable=False) for name in ("min_lon", "min_lat", "max_lon", "max_lat")),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("exact_until", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["commune_id"], ["admin_units.id"], name=op.f("fk_commune_coverage_commune_id_admin_units")
        ),
        sa.PrimaryKeyConstraint("commune_id", name=op.f("pk_commune_coverage")),
    )
    op.create_table(
        "coverage_marks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("commune_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coverage_marks")),
    )
    op.create_index("ix_coverage_marks_commune_id", "coverage_marks", ["commune_id"], unique=False)
    op.create_table(
        "coverage_drawings",
        sa.Column("commune_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("zoom", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seen_geojson", sa.Text(), nullable=False),
        sa.Column("shared_seen_geojson", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["commune_id"], ["admin_units.id"], name=op.f("fk_coverage_drawings_commune_id_admin_units")
        ),
        sa.PrimaryKeyConstraint("commune_id", "zoom", name=op.f("pk_coverage_drawings")),
    )
    op.create_geospatial_table(
        "roads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("kind", sa.String(length=64), nullable=True),
        sa.Column(
            "geometry",
            Geometry(
                geometry_type="LINESTRING",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=False,
        ),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roads")),
    )
    with op.batch_alter_table("roads", schema=None) as batch_op:
        batch_op.create_geospatial_index(
            "idx_roads_geometry", ["geometry"], unique=False, postgresql_using="gist", postgresql_ops={}
        )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"""
            CREATE FUNCTION coverage_marks_boundary() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                {MARK_BOUNDARY};
                RETURN NULL;
            END
            $$""")
        op.execute(
            "CREATE TRIGGER coverage_marks_boundary AFTER UPDATE OF boundary ON admin_units FOR EACH ROW "
            "WHEN (NEW.level = 'commune') EXECUTE FUNCTION coverage_marks_boundary()"
        )
    else:
        op.execute(
            "CREATE TRIGGER coverage_marks_boundary AFTER UPDATE OF boundary ON admin_units "
            f"WHEN NEW.level = 'commune' BEGIN {MARK_BOUNDARY}; END"
        )


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.execute("DROP TRIGGER coverage_marks_boundary" + (" ON admin_units" if postgres else ""))
    if postgres:
        op.execute("DROP FUNCTION coverage_marks_boundary()")
    with op.batch_alter_table("roads", schema=None) as batch_op:
        batch_op.drop_geospatial_index("idx_roads_geometry", postgresql_using="gist", column_name="geometry")
    op.drop_geospatial_table("roads")
    op.drop_table("coverage_drawings")
    op.drop_index("ix_coverage_marks_commune_id", table_name="coverage_marks")
    op.drop_table("coverage_marks")
    op.drop_table("commune_coverage")
