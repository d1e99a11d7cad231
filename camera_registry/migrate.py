"""Alembic wiring: the same revisions run on SpatiaLite and PostGIS."""

from __future__ import annotations

import functools
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from geoalchemy2 import alembic_helpers
from sqlalchemy import Engine, TypeDecorator

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"

# Tables owned by SpatiaLite or PostGIS themselves. Autogenerate must never
# emit create/drop for them (DESIGN.md §4: it tries to drop SpatialIndex, KNN...).
SPATIAL_SYSTEM_TABLES = {
    "data_licenses",
    "sql_statements_log",
    "KNN",
    "KNN2",
    "ElementaryGeometries",
    "SpatialIndex",
    "spatial_ref_sys_aux",
    "spatialite_history",
    "geometry_columns_auth",
    "geometry_columns_statistics",
    "geometry_columns_field_infos",
    "geometry_columns_time",
    "views_geometry_columns_auth",
    "views_geometry_columns_statistics",
    "views_geometry_columns_field_infos",
    "virts_geometry_columns_auth",
    "virts_geometry_columns_statistics",
    "virts_geometry_columns_field_infos",
    "vector_layers",
    "vector_layers_auth",
    "vector_layers_statistics",
    "vector_layers_field_infos",
    "raster_columns",
    "raster_overviews",
    "topology",
    "layer",
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


class UnknownRevision(RuntimeError):
    """The database is at a revision this release does not have: a newer release migrated it."""


@functools.lru_cache(maxsize=1)
def script_directory() -> ScriptDirectory:
    """This release's revisions (read once per process: they do not change while it runs)."""
    return ScriptDirectory(str(MIGRATIONS_DIR))


def head_revisions() -> tuple[str, ...]:
    return tuple(script_directory().get_heads())


def is_known_revision(revision: str) -> bool:
    try:
        return script_directory().get_revision(revision) is not None
    except CommandError:  # alembic's ResolutionError is one
        return False


def current_revisions(engine: Engine) -> tuple[str, ...]:
    """The revisions the database is at (empty: never migrated)."""
    with engine.connect() as connection:
        return tuple(MigrationContext.configure(connection).get_current_heads())


def pending_upgrade(engine: Engine, revision: str = "head") -> bool:
    """Whether upgrading to `revision` would run a migration; UnknownRevision when the database is newer."""
    current = current_revisions(engine)
    check_not_newer(current)
    script = script_directory()
    targets = set(script.get_heads()) if revision == "head" else {script.get_revision(revision).revision}
    if not current:
        return True
    reached = {ancestor.revision for rev in current for ancestor in script.iterate_revisions(rev, "base")}
    return not targets <= reached


def check_not_newer(current: tuple[str, ...]) -> None:
    unknown = [revision for revision in current if not is_known_revision(revision)]
    if unknown:
        raise UnknownRevision(
            f"the database is at revision {', '.join(unknown)}, which this release does not know: a newer release "
            f"migrated it (this release's head is {', '.join(head_revisions())}). Refusing to migrate it. Run the "
            "newer release, or restore a backup taken before that upgrade (docs/operations.md)."
        )


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate up to `revision`; refused (UnknownRevision) when a newer release has migrated the database."""
    check_not_newer(current_revisions(engine))
    command.upgrade(alembic_config(engine), revision)


def downgrade(engine: Engine, revision: str) -> None:
    command.downgrade(alembic_config(engine), revision)


def revision(engine: Engine, message: str) -> None:
    """Autogenerate a revision; read it before committing (DESIGN.md §4)."""
    command.revision(
        alembic_config(engine),
        message=message,
        autogenerate=True,
        process_revision_directives=alembic_helpers.writer,
    )
