"""Alembic environment: runs with the application's engine so SpatiaLite is loaded."""

from alembic import context
from geoalchemy2 import alembic_helpers

from camera_registry.migrate import include_object, render_item
from camera_registry.models import Base

config = context.config
engine = config.attributes["engine"]


def _foreign_keys(connection, on: bool) -> None:
    """SQLite: foreign keys off while tables are copied (a batch rebuild drops a table others reference),
    checked once the revisions have run. The pragma is a no-op inside a transaction: set it on the driver's
    connection, before SQLAlchemy begins one."""
    if connection.dialect.name != "sqlite":
        return
    driver = connection.connection.driver_connection
    if on:
        broken = driver.execute("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"the migration left rows whose foreign keys point nowhere: {broken[:5]}")
    driver.execute(f"PRAGMA foreign_keys = {'ON' if on else 'OFF'}")


with engine.connect() as connection:
    _foreign_keys(connection, on=False)
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        include_object=include_object,
        render_item=render_item,
        process_revision_directives=alembic_helpers.writer,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
    _foreign_keys(connection, on=True)
