"""Engines and sessions for both backends; the only place that knows the driver details.

SQLite needs mod_spatialite loaded on every connection, WAL, a busy timeout
and foreign keys switched on. Many Python builds cannot load SQLite
extensions; then the `sqlean` module (an sqlite3 drop-in with extensions
enabled) is used as the DB-API driver instead.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path

import os

# pyproj must be loaded before the first mod_spatialite: both bring a PROJ
# library, and loaded the other way round the process corrupts its heap and
# dies at exit (measured here: "double free or corruption", exit 134).
import pyproj  # noqa: F401  isort: skip
from geoalchemy2.admin.dialects.sqlite import init_spatialite
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

SPATIALITE_PACKAGE = "libsqlite3-mod-spatialite"
BUSY_TIMEOUT_MS = 10_000


class SpatiaLiteMissing(RuntimeError):
    """mod_spatialite could not be loaded; the message names the package to install."""


def is_sqlite(bind) -> bool:
    return bind.dialect.name == "sqlite"


def is_postgres(bind) -> bool:
    return bind.dialect.name == "postgresql"


def _sqlite_module():
    """The stdlib sqlite3 when it can load extensions, else sqlean."""
    if hasattr(sqlite3.Connection, "enable_load_extension"):
        return sqlite3
    import sqlean

    return sqlean


def _prepare_sqlite_connection(dbapi_connection, connection_record):
    # Let SQLAlchemy, not the driver, emit BEGIN: the driver's implicit
    # transactions break SAVEPOINT, which the tests and nested units of work use.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.close()
    library = os.environ.get("SPATIALITE_LIBRARY_PATH", "mod_spatialite")
    try:
        dbapi_connection.enable_load_extension(True)
        dbapi_connection.load_extension(library)
        dbapi_connection.enable_load_extension(False)
    except Exception as exc:  # each driver raises its own OperationalError type
        raise SpatiaLiteMissing(
            f"cannot load {library} ({exc}); install it with: apt-get install {SPATIALITE_PACKAGE}"
        ) from exc
    # A new file gets only the WGS84 reference systems: full EPSG init takes seconds.
    init_spatialite(dbapi_connection, transaction=True, init_mode="WGS84")


def make_engine(url: str, echo: bool = False) -> Engine:
    """An engine for `url` with the per-backend connection set-up applied."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, echo=echo, module=_sqlite_module(), connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
        event.listen(engine, "connect", _prepare_sqlite_connection)
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN"))
        return engine
    return create_engine(url, echo=echo, pool_pre_ping=True)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)
