"""Alembic environment: runs with the application's engine so SpatiaLite is loaded."""

from alembic import context
from geoalchemy2 import alembic_helpers

from camera_registry.migrate import include_object, render_item
from camera_registry.models import Base

config = context.config
engine = config.attributes["engine"]

with engine.connect() as connection:
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
