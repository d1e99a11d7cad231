"""Alembic wiring: the same revisions run on SpatiaLite and PostGIS."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from geoalchemy2 import alembic_helpers
from sqlalchemy import Engine, TypeDecorator

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"

# Tables owned by SpatiaLite or PostGIS themselves. Autogenerate must never
# emit create/drop for them (DESIGN.md §4: it tries to drop SpatialIndex, KNN...).
SPATIAL_SYSTEM_TABLES = {
    "data_licenses", "sql_statements_log", "KNN", "KNN2", "ElementaryGeometries", "SpatialIndex",
    "spatial_ref_sys_aux", "spatialite_history", "geometry_columns_auth", "geometry_columns_statistics",
    "geometry_columns_field_infos", "geometry_columns_time", "views_geometry_columns_auth",
    "views_geometry_columns_statistics", "views_geometry_columns_field_infos",
    "virts_geometry_columns_auth", "virts_geometry_columns_statistics",
    "virts_geometry_columns_field_infos", "vector_layers", "vector_layers_auth",
    "vector_layers_statistics", "vector_layers_field_infos", "raster_columns", "raster_overviews",
    "topology", "layer",
}


def include_object(obj, name, obj_type, reflected, compare_to) -> bool:
    if obj_type == "table" and (name in SPATIAL_SYSTEM_TABLES or name.startswith(("sqlite_", "rtree_"))):
        return False
    return alembic_helpers.include_object(obj, name, obj_type, reflected, compare_to)


def render_item(obj_type, obj, autogen_context):
    """Render our TypeDecorators as the plain type they store, so revisions never import the app."""
    if obj_type == "type" and isinstance(obj, TypeDecorator):
        return f"sa.{obj.impl!r}"
    return alembic_helpers.render_item(obj_type, obj, autogen_context)


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    command.upgrade(alembic_config(engine), revision)


def downgrade(engine: Engine, revision: str) -> None:
    command.downgrade(alembic_config(engine), revision)


def revision(engine: Engine, message: str) -> None:
    """Autogenerate a revision; read it before committing (DESIGN.md §4)."""
    command.revision(
        alembic_config(engine), message=message, autogenerate=True,
        process_revision_directives=alembic_helpers.writer,
    )
