"""Bulk loads beside the limit of the database's own bulk path, in the same run (issue 16, item 3).

    python -m benchmarks.bulk_load                  # both backends, 2 rounds
    python -m benchmarks.bulk_load --rounds 3 --record

The limit is what writing the same rows costs with nothing of ours in the way: the rows a load wrote,
read back as the driver hands them (geometries as EWKT), written into a fresh database holding what the
load started from, in one transaction: on PostGIS by psycopg's COPY FROM STDIN, on SpatiaLite by one
executemany per table, its spatial index built once after (kept current row by row by SpatiaLite's
triggers, the city's 55,000 lenses took 8.4 s, most of the whole load). The load and its limit take
turns (who goes first swaps every round), each in a fresh database, so a machine whose load moves slows
both alike: read the ratios.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from geoalchemy2 import Geometry
from sqlalchemy import JSON, Engine, Table, func, insert, select
from sqlalchemy.types import TypeEngine

from camera_registry.db import is_postgres, make_session_factory, spatial_indexes_deferred
from camera_registry.models import Base, CommuneFigureMark
from camera_registry.services.access import SYSTEM
from camera_registry.services.imports import import_register
from camera_registry.services.sample import load_dataset
from camera_registry.services.sample_generator import generate_city

from .harness import FIGURE_HEADER, FULL, Figure, at_most, fresh_database, reachable_backends

SECTION = "## Bulk loads beside COPY (issue 16, item 3)"
TARGET_RATIO = 3.0
TARGETS = (
    f"Targets (issue 16, item 3): the 55,000-lens sample load and a 55,000-row register import within "
    f"{TARGET_RATIO:g}x the limit measured in the same run, on both backends."
)

#: (table, its column names, the driver's rows), parents first.
Written = list[tuple[Table, list[str], list[tuple]]]
#: Tables the database's own triggers fill (migration 0014) as the registry is written: the limit's writes fire
#: them as the load's did, so copying their rows too would write them twice (and clash on their ids).
TRIGGER_WRITTEN = {CommuneFigureMark.__table__}


def _counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            table.name: connection.scalar(select(func.count()).select_from(table))
            for table in Base.metadata.sorted_tables
        }


def written_rows(engine: Engine, before: dict[str, int]) -> Written:
    """The rows each table gained since `before` (rows are appended: the ones after the first `before` by key)."""
    written = []
    with engine.connect() as connection:
        ewkt = "ST_AsEWKT" if is_postgres(connection) else "AsEWKT"
        quote = connection.dialect.identifier_preparer.quote
        for table in Base.metadata.sorted_tables:
            if table in TRIGGER_WRITTEN:
                continue
            # In the order of SQLite's compiled INSERT, so the limit passes each row as it was read.
            keys = list(table.c.keys())
            names = list(insert(table).compile(dialect=connection.dialect, column_keys=keys).positiontup or keys)
            quoted = {name: quote(name) for name in names}
            selected = ", ".join(_read_as_written(table.c[name].type, quoted[name], ewkt) for name in names)
            order = ", ".join(quote(column.name) for column in table.primary_key.columns) or quoted[names[0]]
            rows = connection.exec_driver_sql(
                f"SELECT {selected} FROM {table.name} ORDER BY {order} OFFSET {before[table.name]}"
                if is_postgres(connection)
                else f"SELECT {selected} FROM {table.name} ORDER BY {order} LIMIT -1 OFFSET {before[table.name]}"
            ).all()
            if rows:
                written.append((table, names, [tuple(row) for row in rows]))
    return written


def _read_as_written(kind: TypeEngine, column: str, ewkt: str) -> str:
    """A column as COPY and executemany take it back: geometries as EWKT, JSON as its text."""
    if isinstance(kind, Geometry):
        return f"{ewkt}({column})"
    return f"CAST({column} AS TEXT)" if isinstance(kind, JSON) else column


def write_straight(engine: Engine, written: Written) -> None:
    """The limit: the rows through the driver's bulk path in one transaction, nothing of ours in between."""
    with engine.begin() as connection:
        driver = connection.connection.driver_connection
        for table, names, rows in written:
            if is_postgres(connection):
                with (
                    driver.cursor() as cursor,
                    cursor.copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as copy,
                ):
                    for row in rows:
                        copy.write_row(row)
            else:
                statement = str(insert(table).compile(dialect=connection.dialect, column_keys=names))
                with spatial_indexes_deferred(connection, table, len(rows)):
                    cursor = driver.cursor()
                    cursor.executemany(statement, rows)
                    cursor.close()


def _timed(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def bench_pair(
    backend: str, label: str, prepare: Callable[[Engine], None], load: Callable[[Engine], None], rounds: int
) -> Figure:
    """`load` into a fresh database made ready by `prepare`, and the limit of writing what it wrote, in turns."""
    loads, limits, written = [], [], None
    for round_number in range(rounds):
        for turn in ("load", "limit") if round_number % 2 == 0 or written is None else ("limit", "load"):
            with fresh_database(backend) as engine:
                prepare(engine)
                before = _counts(engine)
                if turn == "load":
                    loads.append(_timed(lambda: load(engine)))
                    written = written or written_rows(engine, before)
                else:
                    limits.append(_timed(lambda: write_straight(engine, written)))
    load_s, limit_s = min(loads), min(limits)
    path = "COPY" if backend == "postgis" else "executemany, one transaction"
    return at_most(backend, label, f"{load_s:.2f} s", load_s / limit_s, f"{path} ({limit_s:.2f} s)", TARGET_RATIO)


def _load_dataset(directory: Path) -> Callable[[Engine], None]:
    def load(engine: Engine) -> None:
        with make_session_factory(engine)() as session:
            load_dataset(session, directory)
            session.commit()

    return load


def _import(register: Path) -> Callable[[Engine], None]:
    def load(engine: Engine) -> None:
        with make_session_factory(engine)() as session:
            report = import_register(session, register, register.name, actor=SYSTEM)
            session.commit()
        if not report.ok:
            raise SystemExit(f"{register}: {report.error_count} errors, first: {report.errors[0]}")

    return load


def bench_bulk(backend: str, directory: Path, register: Path, communes: Path, rounds: int = 2) -> list[Figure]:
    """The city's sample load and its register's import, each beside its limit."""
    with open(directory / "lenses.csv", encoding="utf-8") as handle:
        lenses = sum(1 for _ in handle) - 1
    return [
        bench_pair(backend, f"sample load, {lenses:,} lenses", lambda engine: None, _load_dataset(directory), rounds),
        bench_pair(
            backend, f"import {lenses:,}-row register (CSV)", _load_dataset(communes), _import(register), rounds
        ),
    ]


def main(argv: list[str] | None = None) -> None:
    from . import __main__ as suite  # the city, its register and its communes, as `make bench` writes them
    from .load import load_average, machine, record

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=("spatialite", "postgis"), action="append")
    parser.add_argument("--rounds", type=int, default=2, help="load/limit pairs per measure (default 2)")
    parser.add_argument("--record", action="store_true", help=f"write its section of {suite.RESULTS.name}")
    args = parser.parse_args(argv)
    # A directory of its own: another benchmark may be rewriting the suite's city in benchmarks/data.
    directory = Path(tempfile.mkdtemp(prefix="cr-bench-bulk-")) / "city"
    generate_city(directory, **FULL.city())
    register, communes = suite.register_file(directory), suite.communes_only(directory)
    before = load_average()
    print(TARGETS, *FIGURE_HEADER, sep="\n", flush=True)
    backends, skipped = reachable_backends(args.backend or ["spatialite", "postgis"])
    lines = []
    for backend in backends:
        for figure in bench_bulk(backend, directory, register, communes, args.rounds):
            lines.append(figure.line)
            print(figure.line, flush=True)
    after = load_average()
    print(*skipped, f"load average before: {before}; after: {after}", sep="\n", flush=True)
    if args.record:
        record(
            "\n".join(
                [
                    SECTION,
                    "",
                    f"Measured {time.strftime('%Y-%m-%d')} on {machine()} with `python -m benchmarks.bulk_load "
                    f"--rounds {args.rounds}`, the best of each. Load average (1, 5, 15 min) before: {before}; "
                    f"after: {after}.",
                    "",
                    TARGETS,
                    "",
                    *FIGURE_HEADER,
                    *lines,
                    *skipped,
                    "",
                ]
            ),
            title=SECTION,
        )
        print(f"recorded in {suite.RESULTS}")
    shutil.rmtree(directory.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
