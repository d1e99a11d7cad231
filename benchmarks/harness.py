"""Fresh databases per backend and a timing helper for the benchmark suite."""

from __future__ import annotations

import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from camera_registry import migrate
from camera_registry.db import make_engine

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def postgres_server_url() -> str:
    return os.environ.get("BENCH_POSTGRES_URL") or os.environ.get("TEST_POSTGRES_URL") or DEFAULT_POSTGRES_URL


def postgres_available() -> tuple[bool, str]:
    url = postgres_server_url()
    try:
        with create_engine(url).connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means: skip with the reason
        return False, f"no PostgreSQL at {make_url(url).render_as_string(hide_password=True)}: {exc.__class__.__name__}"
    return True, ""


@contextmanager
def fresh_database(backend: str) -> Iterator[Engine]:
    """A migrated, empty database that is removed afterwards."""
    if backend == "spatialite":
        with tempfile.TemporaryDirectory(prefix="cr-bench-") as directory:
            engine = make_engine(f"sqlite:///{Path(directory) / 'bench.sqlite'}")
            migrate.upgrade(engine)
            yield engine
            engine.dispose()
        return
    server = make_url(postgres_server_url())
    name = f"cr_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(server.set(database=name).render_as_string(hide_password=False))
    try:
        migrate.upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as connection:
            # WITH (FORCE): a request the benchmark gave up on may still hold a connection.
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@dataclass(frozen=True)
class Timing:
    p50_ms: float
    p95_ms: float
    runs: int


def time_calls(call: Callable[[], object], runs: int, warmup: int = 3) -> Timing:
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    return _timing(samples)


def alternate_calls(calls: dict[str, Callable[[], object]], runs: int, warmup: int = 3) -> dict[str, Timing]:
    """Each call `runs` times, taking turns (who goes first swaps every round), so a machine whose load moves
    slows them alike: the figures to be read as ratios."""
    names = list(calls)
    for _ in range(warmup):
        for name in names:
            calls[name]()
    samples: dict[str, list[float]] = {name: [] for name in names}
    for round_number in range(runs):
        for name in names if round_number % 2 == 0 else reversed(names):
            start = time.perf_counter()
            calls[name]()
            samples[name].append((time.perf_counter() - start) * 1000)
    return {name: _timing(values) for name, values in samples.items()}


def _timing(samples: list[float]) -> Timing:
    samples = sorted(samples)
    return Timing(
        statistics.median(samples), samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))], len(samples)
    )


def reachable_backends(backends: list[str]) -> tuple[list[str], list[str]]:
    """The backends that can be measured now, and a line for each one skipped with why."""
    reachable, skipped = [], []
    for backend in backends:
        if backend == "postgis":
            ok, reason = postgres_available()
            if not ok:
                skipped.append(f"postgis skipped: {reason}")
                continue
        reachable.append(backend)
    return reachable, skipped
