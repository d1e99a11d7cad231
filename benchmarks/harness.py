"""Fresh databases per backend, timing helpers, the run's scale and its figures for the benchmark suite."""

from __future__ import annotations

import atexit
import functools
import logging
import os
import shutil
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


def quiet_logs() -> None:
    """Only warnings and errors of the apps the benchmarks run in this process reach the terminal: a line per
    timed request buried the figures and cost its share of each request. Our loggers keep their level, so a
    record that matters still shows; a server in its own process keeps its own logs."""
    handler = logging.StreamHandler()
    handler.setLevel(logging.WARNING)
    logging.getLogger().addHandler(handler)


_TEMPLATE_PREFIX = "cr_bench_template_"


@functools.cache
def _migrated_template(backend: str) -> str:
    """A database migrated once for this run, which every fresh database copies: migrating takes 1.5 s on SpatiaLite
    and 4 s on PostGIS, paid by each of the dozen databases a run makes. Removed when the run ends (a template a
    killed run left behind is removed by the next)."""
    if backend == "spatialite":
        directory = tempfile.mkdtemp(prefix="cr-bench-template-")
        atexit.register(shutil.rmtree, directory, True)
        path = Path(directory) / "template.sqlite"
        engine = make_engine(f"sqlite:///{path}")
        migrate.upgrade(engine)
        engine.dispose()  # the last connection closed: the write-ahead log is folded into the file
        return str(path)
    admin = create_engine(make_url(postgres_server_url()), isolation_level="AUTOCOMMIT")
    name = f"{_TEMPLATE_PREFIX}{os.getpid()}"
    with admin.connect() as connection:
        for (left,) in connection.execute(
            text("SELECT datname FROM pg_database WHERE datname LIKE :prefix"), {"prefix": f"{_TEMPLATE_PREFIX}%"}
        ):
            if not Path(f"/proc/{left.removeprefix(_TEMPLATE_PREFIX)}").exists():  # its run is over
                connection.execute(text(f'DROP DATABASE IF EXISTS "{left}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(make_url(postgres_server_url()).set(database=name).render_as_string(hide_password=False))
    migrate.upgrade(engine)
    engine.dispose()  # CREATE DATABASE ... TEMPLATE needs the template without connections

    def drop():
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    atexit.register(drop)
    return name


@contextmanager
def fresh_database(backend: str) -> Iterator[Engine]:
    """A migrated, empty database (a copy of the run's template) that is removed afterwards."""
    template = _migrated_template(backend)
    if backend == "spatialite":
        with tempfile.TemporaryDirectory(prefix="cr-bench-") as directory:
            path = Path(directory) / "bench.sqlite"
            shutil.copyfile(template, path)
            engine = make_engine(f"sqlite:///{path}")
            yield engine
            engine.dispose()
        return
    server = make_url(postgres_server_url())
    name = f"cr_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    engine = make_engine(server.set(database=name).render_as_string(hide_password=False))
    try:
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

    @property
    def measured(self) -> str:
        return f"p50 {self.p50_ms:.1f} ms, p95 {self.p95_ms:.1f} ms"


@dataclass(frozen=True)
class Scale:
    """How much a run does: the full one recorded in RESULTS.md, or the quick one for the developer's loop
    (a smaller city, a tenth of the calls, short loads). Quick figures say whether something broke or slowed
    grossly; the targets stay the full run's."""

    name: str
    lenses: int
    sites: int
    share: float  # of each benchmark's calls
    load_seconds: float  # of each load under gunicorn
    warmup_seconds: float

    @property
    def quick(self) -> bool:
        return self.share < 1

    def calls(self, full: int, least: int = 5) -> int:
        return full if self.share == 1 else max(least, round(full * self.share))

    def city(self) -> dict:
        return {"preset": "hanoi", "lenses": self.lenses, "sites": self.sites, "seed": 1}


FULL = Scale("full", lenses=55_000, sites=265, share=1, load_seconds=45, warmup_seconds=8)
QUICK = Scale("quick", lenses=6_000, sites=30, share=0.1, load_seconds=4, warmup_seconds=1)


@dataclass(frozen=True)
class Figure:
    """One measured figure as `make bench` prints it: the value, its ratio to a peer or limit measured in the
    same run (or to the target's limit), the target, and whether it is met (None: a peer's figure, no target)."""

    backend: str
    measure: str
    measured: str
    ratio: float | None
    against: str
    target: str
    passed: bool | None

    @property
    def line(self) -> str:
        ratio = f"{self.ratio:.2f}x {self.against}" if self.ratio is not None else self.against
        verdict = "" if self.passed is None else "PASS" if self.passed else "FAIL"
        return f"| {self.backend} | {self.measure} | {self.measured} | {ratio} | {self.target} | {verdict} |"


FIGURE_HEADER = [
    "| backend | measure | measured | ratio | target | verdict |",
    "| --- | --- | --- | --- | --- | --- |",
]


def under(
    backend: str, measure: str, value: float, limit: float, *, unit: str = "ms", what: str = "p95", measured=None
) -> Figure:
    """A figure whose target is a limit on `value`: its ratio is to that limit."""
    return Figure(
        backend,
        measure,
        measured or f"{what} {value:.1f} {unit}",
        value / limit,
        f"the {limit:g} {unit} limit",
        f"{what} < {limit:g} {unit}",
        value < limit,
    )


def timed_under(backend: str, measure: str, timing: Timing, limit_ms: float) -> Figure:
    """A latency figure: its p95 against a limit in milliseconds."""
    return under(backend, measure, timing.p95_ms, limit_ms, measured=timing.measured)


def seconds_under(backend: str, measure: str, seconds: float, limit_s: float) -> Figure:
    return under(backend, measure, seconds, limit_s, unit="s", what="time", measured=f"{seconds:.2f} s")


def at_most(backend: str, measure: str, measured: str, ratio: float, against: str, limit: float) -> Figure:
    """A figure whose target is a ratio to a peer measured in the same run."""
    return Figure(backend, measure, measured, ratio, against, f"at most {limit:g}x", ratio <= limit)


def at_least(backend: str, measure: str, measured: str, ratio: float, against: str, limit: float) -> Figure:
    return Figure(backend, measure, measured, ratio, against, f"at least {limit:g}x", ratio >= limit)


def peer(backend: str, measure: str, measured: str, note: str = "") -> Figure:
    """A figure that others are divided by, with no target of its own."""
    return Figure(backend, measure, measured, None, note, "", None)


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
