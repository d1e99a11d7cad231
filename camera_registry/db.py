"""Engines, sessions and units of work for both backends; the only place that knows the driver details.

SQLite needs mod_spatialite loaded on every connection, WAL, a busy timeout
and foreign keys switched on. Many Python builds cannot load SQLite
extensions; then the `sqlean` module (an sqlite3 drop-in with extensions
enabled) is used as the DB-API driver instead.

Every session is a unit of one of two kinds (DESIGN.md §4):
- a read unit begins deferred (on PostgreSQL it runs in autocommit) and may
  not write; what a read must leave behind (the audit of contact data shown,
  a link's first view) is queued with `after_read` and written by its own
  write unit once the read is over, so it can never fail the read;
- a write unit begins with BEGIN IMMEDIATE on SQLite, taking the single write
  lock up front. A deferred transaction that reads and then writes cannot wait
  for that lock in WAL mode (it fails at once if another connection committed
  in between); an immediate one waits up to the busy timeout. Write units stay
  short and never span network I/O; `write_unit` retries one whose lock wait
  or (PostgreSQL) serialisation failed, from the start, a bounded number of times.

PostgreSQL connections are not pinged at checkout (a round trip per request):
they are replaced after POOL_RECYCLE_SECONDS, and a connection the server
dropped (a restart, pg_terminate_backend) fails its first statement once:
SQLAlchemy then invalidates the whole pool, so the next checkout connects
afresh. That one failure is retryable: a write unit tries again on a new
connection, a request answers 503 with Retry-After.
"""

from __future__ import annotations

import functools
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

# pyproj must be loaded before the first mod_spatialite: both bring a PROJ
# library, and loaded the other way round the process corrupts its heap and
# dies at exit (measured here: "double free or corruption", exit 134).
import pyproj  # noqa: F401  isort: skip
from geoalchemy2 import Geometry
from geoalchemy2.admin.dialects.sqlite import init_spatialite
from sqlalchemy import Column, Connection, Engine, Table, create_engine, event, func, insert, inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger("camera_registry.db")

SPATIALITE_PACKAGE = "libsqlite3-mod-spatialite"
BUSY_TIMEOUT_MS = 10_000

READ, WRITE = "read", "write"
#: The execution option that makes SQLite begin a transaction with BEGIN IMMEDIATE.
WRITE_LOCK_OPTION = "camera_registry_write_lock"
#: Tries of a write unit whose lock wait timed out or whose transaction PostgreSQL had to abort.
WRITE_ATTEMPTS = 3
RETRY_PAUSE_SECONDS = 0.05
#: SQLite's messages when the lock could not be had; PostgreSQL's serialisation failure and deadlock.
SQLITE_BUSY_MESSAGES = ("database is locked", "database table is locked", "database is busy")
POSTGRES_RETRYABLE_STATES = ("40001", "40P01")
#: Under the idle timeouts of firewalls and PgBouncer-style proxies, so a pooled connection is not cut while idle.
POOL_RECYCLE_SECONDS = 1800

T = TypeVar("T")


class ReadUnitWrote(RuntimeError):
    """A read unit tried to write: a read path must never write (queue it with `after_read`)."""


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


def _sqlite_connection_setup(busy_timeout_ms: int):
    return lambda dbapi_connection, connection_record: _prepare_sqlite_connection(dbapi_connection, busy_timeout_ms)


def _prepare_sqlite_connection(dbapi_connection, busy_timeout_ms: int):
    # Let SQLAlchemy, not the driver, emit BEGIN: the driver's implicit
    # transactions break SAVEPOINT, which the tests and nested units of work use.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
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
    # After loading: mod_spatialite sets a busy timeout of its own (5 s) when it initialises.
    dbapi_connection.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    # A new file gets only the WGS84 reference systems: full EPSG init takes seconds.
    init_spatialite(dbapi_connection, transaction=True, init_mode="WGS84")


def make_engine(url: str, echo: bool = False, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> Engine:
    """An engine for `url` with the per-backend connection set-up applied; on SQLite a writer waits up to
    `busy_timeout_ms` for the write lock."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, echo=echo, module=_sqlite_module(), connect_args={"timeout": busy_timeout_ms / 1000}
        )
        event.listen(engine, "connect", _sqlite_connection_setup(busy_timeout_ms))
        event.listen(engine, "begin", _begin_sqlite)
        return engine
    return create_engine(url, echo=echo, pool_recycle=POOL_RECYCLE_SECONDS)


def _begin_sqlite(conn) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE_LOCK_OPTION) else "BEGIN")


@functools.lru_cache(maxsize=32)
def _write_engine(engine: Engine) -> Engine:
    """The same engine and pool, whose transactions take SQLite's write lock when they begin."""
    return engine.execution_options(**{WRITE_LOCK_OPTION: True})


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    event.listen(factory, "before_flush", _refuse_flush_in_read)
    event.listen(factory, "before_flush", _number_new_rows)
    event.listen(factory, "do_orm_execute", _refuse_dml_in_read)
    return factory


@functools.lru_cache(maxsize=32)
def _read_engine(engine: Engine) -> Engine:
    """The same engine and pool, whose connections run a PostgreSQL read unit in autocommit.

    Under READ COMMITTED each statement sees its own snapshot inside a transaction too, so a read loses
    nothing; it saves the BEGIN and ROLLBACK round trips, two of a tile request's three."""
    return engine.execution_options(isolation_level="AUTOCOMMIT")


def open_session(factory: sessionmaker[Session], unit: str) -> Session:
    """A new session for a READ or a WRITE unit."""
    bind = factory.kw.get("bind")
    if unit == READ:
        if isinstance(bind, Engine) and is_postgres(bind):
            return factory(bind=_read_engine(bind), info={"unit": READ})
        return factory(info={"unit": READ})
    if isinstance(bind, Engine) and is_sqlite(bind):
        bind = _write_engine(bind)
    return factory(bind=bind, info={"unit": WRITE})


def is_read_unit(session: Session) -> bool:
    return session.info.get("unit") == READ


def _refuse_flush_in_read(session: Session, flush_context, instances) -> None:
    if is_read_unit(session) and (session.new or session.dirty or session.deleted):
        changed = [type(obj).__name__ for obj in (*session.new, *session.dirty, *session.deleted)]
        raise ReadUnitWrote(f"a read unit tried to write {', '.join(sorted(set(changed)))}")


#: New rows of one table in a flush that get their ids up front.
NUMBERED_ROWS = 2


def _number_new_rows(session: Session, flush_context, instances) -> None:
    """Give a table's new rows their ids before the flush when it adds several: the ORM then writes them with one
    executemany instead of an INSERT ... RETURNING that must hand each row its id. A routed request adds hundreds
    of assignments, audit events and messages at once.

    SQLite's RETURNING cannot say which id went to which row, so without ids the ORM sends one statement per
    row; there the ids are taken from the largest stored one on, which cannot clash: a write unit holds the
    database's write lock from its BEGIN, and any other transaction that wrote meanwhile makes this one's write
    fail. PostgreSQL would send one multi-row INSERT, but psycopg parses a statement of more than 50 parameters
    anew each time, in Python (a routed request's messages: some 20 ms); there the ids come from the table's
    own sequence, in one query, and the executemany's one short statement is parsed once."""
    if not session.new:
        return
    new_rows: dict[Table, tuple[str, list]] = {}
    for obj in session.new:
        mapper = inspect(obj).mapper
        if mapper.inherits is not None or len(mapper.primary_key) != 1:
            continue
        column = mapper.primary_key[0]
        # Only an id the database would number: not a key taken from a parent row, nor a text key.
        if column.table is not mapper.local_table or mapper.local_table.autoincrement_column is not column:
            continue
        key = mapper.get_property_by_column(column).key
        new_rows.setdefault(mapper.local_table, (key, []))[1].append(obj)
    for table, (key, rows) in new_rows.items():
        unnumbered = [obj for obj in rows if getattr(obj, key) is None]
        if len(unnumbered) < NUMBERED_ROWS:
            continue
        numbered = [getattr(obj, key) for obj in rows if getattr(obj, key) is not None]
        for obj, number in zip(unnumbered, new_ids(session, table, len(unnumbered), numbered)):
            setattr(obj, key, number)


def new_ids(session: Session, table: Table, count: int, numbered: Sequence[int] = ()) -> list[int]:
    """`count` unused ids of `table`, rising, for rows the caller inserts itself in this write unit: on SQLite
    after the largest stored (or `numbered`, given to rows not yet written), on PostgreSQL from its sequence."""
    if not count:
        return []
    connection = session.connection()
    (id_column,) = table.primary_key.columns
    if is_sqlite(connection):
        stored = connection.scalar(select(func.coalesce(func.max(id_column), 0)))
        first = max([stored, *numbered]) + 1
        return list(range(first, first + count))
    sequence = func.pg_get_serial_sequence(table.name, id_column.name)
    return sorted(connection.scalars(select(func.nextval(sequence)).select_from(func.generate_series(1, count))))


def _refuse_dml_in_read(state) -> None:
    if is_read_unit(state.session) and (state.is_insert or state.is_update or state.is_delete):
        raise ReadUnitWrote(f"a read unit tried to run {state.statement}")


def after_read(session: Session, write: Callable[[Session], object]) -> None:
    """What a read leaves behind: done now in a write unit (or a plain session), else queued for `finish_read`."""
    if is_read_unit(session):
        session.info.setdefault("after_read", []).append(write)
    else:
        write(session)


def finish_read(factory: sessionmaker[Session], session: Session) -> None:
    """Close a read unit, then write what it queued, each in its own write unit; a failure is logged, never raised."""
    writes = session.info.pop("after_read", [])
    session.close()
    for write in writes:
        try:
            write_unit(factory, write)
        except Exception:  # noqa: BLE001 - the read has been answered; losing this must not turn it into an error
            log.exception("could not record what a read left behind (%s)", getattr(write, "__qualname__", write))


#: Told (error, outcome) of each lock or serialisation failure: "retried" or "gave_up" by a write unit,
#: "answered_503" by a request. metrics.py counts them; this module knows nothing of Prometheus.
RETRY_LISTENERS: list[Callable[[DBAPIError, str], None]] = []


def report_retryable(error: DBAPIError, outcome: str) -> None:
    for listener in RETRY_LISTENERS:
        try:
            listener(error, outcome)
        except Exception:  # noqa: BLE001 - counting must never turn into the error
            log.exception("a retry listener failed")


def is_dropped_connection(error: BaseException) -> bool:
    """The server had dropped the connection before a statement (not during COMMIT, whose outcome is unknown)."""
    return isinstance(error, DBAPIError) and error.connection_invalidated and error.statement is not None


def error_kind(error: BaseException) -> str:
    """locked (SQLite's lock wait ran out), serialization_failure or deadlock (PostgreSQL), disconnect, or other."""
    if is_dropped_connection(error):
        return "disconnect"
    state = getattr(getattr(error, "orig", None), "sqlstate", None)
    if state == "40001":
        return "serialization_failure"
    if state == "40P01":
        return "deadlock"
    if isinstance(error, DBAPIError) and any(message in str(error.orig).lower() for message in SQLITE_BUSY_MESSAGES):
        return "locked"
    return "other"


def is_retryable(error: BaseException) -> bool:
    """A lock wait that timed out (SQLite), a transaction the server aborted to resolve a conflict (PostgreSQL),
    or a statement on a connection the server had dropped (the pool is invalidated: the next try connects afresh)."""
    if not isinstance(error, DBAPIError):
        return False
    if is_dropped_connection(error):
        return True
    if getattr(error.orig, "sqlstate", None) in POSTGRES_RETRYABLE_STATES:
        return True
    return any(message in str(error.orig).lower() for message in SQLITE_BUSY_MESSAGES)


def write_unit(factory: sessionmaker[Session], work: Callable[[Session], T], *, attempts: int = WRITE_ATTEMPTS) -> T:
    """Run `work(session)` in a write unit of its own and commit; retried from the start when `is_retryable`."""
    attempt = 1
    while True:
        with open_session(factory, WRITE) as session:
            try:
                result = work(session)
                session.commit()
                return result
            except DBAPIError as error:
                session.rollback()
                if not is_retryable(error):
                    raise
                if attempt >= attempts:
                    report_retryable(error, "gave_up")
                    raise
                report_retryable(error, "retried")
                log.warning(
                    "write unit %s: %s; try %d of %d",
                    getattr(work, "__qualname__", work),
                    error.orig,
                    attempt + 1,
                    attempts,
                )
        time.sleep(RETRY_PAUSE_SECONDS * attempt)
        attempt += 1


def write_in_batches(factory: sessionmaker[Session], batch: Callable[[Session], int], size: int) -> int:
    """Run `batch` (it handles at most `size` items and says how many) in write units of its own until one
    handles fewer, so a job with much to do never holds the write lock long; the total handled."""
    total = 0
    while True:
        done = write_unit(factory, batch)
        total += done
        if done < size:
            return total


def copy_rows(connection: Connection, table: Table, rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> None:
    """Insert `rows` (`columns` -> values, geometries as EWKT) straight through the driver, in the connection's
    transaction: PostgreSQL's COPY FROM STDIN, SQLite's executemany of one prepared INSERT.

    SQLAlchemy's executemany costs more in Python than the database spends writing (measured on the 55,000-lens
    city: 9x COPY on PostgreSQL); here each value only goes through its column type's bind processor. A
    column a row leaves out gets its Python default. Nothing is returned: the caller selects ids by key.
    """
    dialect = connection.dialect
    names = [*columns, *(column.name for column in table.columns if column.name not in columns and _default(column))]
    if is_postgres(connection):
        quote = dialect.identifier_preparer.quote
        statement = f"COPY {quote(table.name)} ({', '.join(quote(name) for name in names)}) FROM STDIN"
    else:
        compiled = insert(table).compile(dialect=dialect, column_keys=names)
        statement, names = str(compiled), list(compiled.positiontup)
    fill = [(name, _default(table.c[name]) or _none) for name in names]
    processors = [
        (position, process)
        for position, name in enumerate(names)
        if not isinstance(table.c[name].type, Geometry)
        and (process := table.c[name].type.bind_processor(dialect)) is not None
    ]

    def values(row: Mapping[str, Any]) -> list:
        found = [row[name] if name in row else default() for name, default in fill]
        for position, process in processors:
            found[position] = process(found[position])
        return found

    driver = connection.connection.driver_connection
    try:
        if is_postgres(connection):
            with driver.cursor() as cursor, cursor.copy(statement) as copy:
                for row in rows:
                    copy.write_row(values(row))
        else:
            cursor = driver.cursor()
            try:
                cursor.executemany(statement, (values(row) for row in rows))
            finally:
                cursor.close()
    except dialect.loaded_dbapi.Error as error:
        raise DBAPIError.instance(statement, None, error, dialect.loaded_dbapi.Error) from error


def _none() -> None:
    return None


def _default(column: Column) -> Callable[[], Any] | None:
    """What an INSERT leaving `column` out would write from Python, as a call; None if the database decides."""
    default = column.default
    if default is None or not (default.is_scalar or default.is_callable):
        return None
    if default.is_scalar:
        return lambda: default.arg
    return lambda: default.arg(None)


#: Stored rows under which SQLite's spatial index is rebuilt rather than kept current, for any load size.
SMALL_TABLE_ROWS = 1_000


@contextmanager
def spatial_indexes_deferred(connection: Connection, table: Table, incoming: int | None) -> Iterator[None]:
    """On SQLite, drop `table`'s spatial indexes for a bulk load of `incoming` rows (None: a stream, size unknown)
    and build them afresh over all its rows after it.

    SpatiaLite keeps its R*Tree current with a trigger per row; building it
    once over the loaded rows is cheaper, as long as the rows already stored
    do not outnumber the new ones: so only when the table holds fewer than
    SMALL_TABLE_ROWS, or at most `incoming`. PostGIS's GiST keeps up with
    COPY, so there it stays. Inside the caller's transaction: a load rolled
    back takes the index back as it was.
    """
    indexed = [column.name for column in table.columns if getattr(column.type, "spatial_index", False)]
    if not is_sqlite(connection) or not indexed or incoming == 0:
        yield
        return
    stored = connection.scalar(select(func.count()).select_from(table))
    if stored >= SMALL_TABLE_ROWS and (incoming is None or incoming < stored):
        yield
        return
    for column in indexed:
        connection.exec_driver_sql(f"SELECT DisableSpatialIndex('{table.name}', '{column}')")
        connection.exec_driver_sql(f'DROP TABLE IF EXISTS "idx_{table.name}_{column}"')
    try:
        yield
    finally:
        for column in indexed:
            connection.exec_driver_sql(f"SELECT CreateSpatialIndex('{table.name}', '{column}')")
