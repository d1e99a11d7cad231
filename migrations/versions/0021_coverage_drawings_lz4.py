"""Issue 18 item 3: compress the coverage drawings with LZ4 on PostgreSQL.

A full recompute writes about 10 MB of GeoJSON into coverage_drawings; PostgreSQL's default TOAST compression
(pglz) took 0.39 s of it on the 55,000-lens city, LZ4 0.15 s (and reads back faster). A server built without LZ4
keeps pglz: the block below reports it and goes on, since only speed depends on it. SQLite stores text as it is.
Rows already stored keep their compression until the next recompute rewrites them.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-02 19:20:00
"""

from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

COLUMNS = ("seen_geojson", "shared_seen_geojson")


def _set_compression(method: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    columns = ", ".join(f"ALTER COLUMN {column} SET COMPRESSION {method}" for column in COLUMNS)
    op.execute(
        f"""
        DO $$
        BEGIN
            ALTER TABLE coverage_drawings {columns};
        EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
            RAISE NOTICE 'coverage_drawings keeps its compression: %', SQLERRM;
        END
        $$
        """
    )


def upgrade() -> None:
    _set_compression("lz4")


def downgrade() -> None:
    _set_compression("pglz")
