"""The Alembic revisions build exactly the schema the models describe, on this backend."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from camera_registry import migrate
from camera_registry.db import make_engine
from camera_registry.models import Base


def _schema_diff(connection) -> list:
    context = MigrationContext.configure(
        connection,
        opts={"include_object": migrate.include_object, "compare_type": True},
    )
    return compare_metadata(context, Base.metadata)


def test_migrated_schema_matches_models(engine, backend):
    with engine.connect() as connection:
        diff = _schema_diff(connection)
    assert diff == [], f"migrations and models differ on {backend}:\n" + "\n".join(map(repr, diff))


def test_migrations_have_a_single_head():
    scripts = ScriptDirectory.from_config(migrate.alembic_config(engine=None))
    assert len(scripts.get_heads()) == 1, scripts.get_heads()


def test_downgrade_to_base_then_upgrade_to_head(database_server, backend):
    url = database_server.new_database("roundtrip")
    engine = make_engine(url)
    try:
        migrate.upgrade(engine)
        model_tables = set(Base.metadata.tables)
        assert model_tables <= set(inspect(engine).get_table_names())

        migrate.downgrade(engine, "base")
        engine.dispose()  # SQLite caches the schema per connection
        assert model_tables.isdisjoint(inspect(engine).get_table_names())

        migrate.upgrade(engine)
        engine.dispose()
        assert model_tables <= set(inspect(engine).get_table_names())
        with engine.connect() as connection:
            assert _schema_diff(connection) == []
    finally:
        engine.dispose()
        database_server.drop_database(url)


def test_geometry_columns_are_registered_with_type_and_srid(engine, backend):
    """On SpatiaLite the reflected Geometry type carries no geometry_type/srid, so
    compare_metadata cannot see a wrong one there: check the spatial catalogue directly."""
    from geoalchemy2 import Geometry

    expected = {
        (table.name, column.name): (column.type.geometry_type, column.type.srid)
        for table in Base.metadata.tables.values()
        for column in table.columns
        if isinstance(column.type, Geometry)
    }
    with engine.connect() as connection:
        if backend == "spatialite":
            # SpatiaLite codes: 0 = any GEOMETRY, 1 = POINT, 6 = MULTIPOLYGON (XY); spatial_index_enabled 1 = R*Tree.
            codes = {
                0: "GEOMETRY",
                1: "POINT",
                2: "LINESTRING",
                3: "POLYGON",
                4: "MULTIPOINT",
                5: "MULTILINESTRING",
                6: "MULTIPOLYGON",
            }
            rows = connection.exec_driver_sql(
                "SELECT f_table_name, f_geometry_column, geometry_type, srid, spatial_index_enabled "
                "FROM geometry_columns"
            ).all()
            found = {(t, c): (codes.get(g, g), s) for t, c, g, s, _ in rows}
            assert all(indexed == 1 for *_, indexed in rows), rows
        else:
            rows = connection.exec_driver_sql(
                "SELECT f_table_name, f_geometry_column, type, srid FROM geometry_columns "
                "WHERE f_table_schema = 'public'"
            ).all()
            found = {(t, c): (g, s) for t, c, g, s in rows}
    assert found == expected
