"""The rows of a database: counted in the snapshot that is backed up, and again after a restore."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, inspect, select, text
from sqlalchemy.engine import Connection

from ... import db
from ...models import Base
from .manifest import BackupError


def registry_tables(connection: Connection) -> list[str]:
    """The registry's own tables present in the database (not SpatiaLite's or PostGIS's), and alembic_version."""
    present = set(inspect(connection).get_table_names())
    names = [table.name for table in Base.metadata.sorted_tables if table.name in present]
    return names + (["alembic_version"] if "alembic_version" in present else [])


def count_rows(connection: Connection) -> dict[str, int]:
    counts = {}
    for name in registry_tables(connection):
        table = Base.metadata.tables.get(name)
        query = select(func.count()).select_from(table) if table is not None else text(f'SELECT count(*) FROM "{name}"')
        counts[name] = int(connection.execute(query).scalar_one())
    return counts


def _revisions(connection: Connection) -> list[str]:
    if "alembic_version" not in inspect(connection).get_table_names():
        return []
    return sorted(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())


def _recorded_clips(connection: Connection) -> list[tuple[str, str]]:
    """(stored path, SHA-256) of every clip the database records."""
    if "footage_clips" not in inspect(connection).get_table_names():
        return []
    return [(path, sha) for path, sha in connection.execute(text("SELECT stored_path, sha256 FROM footage_clips"))]


@dataclass
class Snapshot:
    revisions: list[str]
    tables: dict[str, int]
    clips: list[tuple[str, str]]


def read_snapshot(connection: Connection) -> Snapshot:
    return Snapshot(_revisions(connection), count_rows(connection), _recorded_clips(connection))


def _holds_registry(connection: Connection) -> bool:
    present = set(inspect(connection).get_table_names())
    return "alembic_version" in present or any(table.name in present for table in Base.metadata.sorted_tables)


def refuse_non_empty(target_url: str) -> None:
    engine = db.make_engine(target_url)
    try:
        with engine.connect() as connection:
            if _holds_registry(connection):
                raise BackupError(
                    "the target database already holds a registry: restore into a new, empty database "
                    "(--into URL), or drop this one first"
                )
    finally:
        engine.dispose()
