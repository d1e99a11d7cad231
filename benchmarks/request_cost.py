"""The per-request cost (issue 16, item 1): a mixed read load against the ceiling, and tiles against tipg.

    python -m benchmarks.request_cost                       # both backends, 15 s per load, 2 rounds
    python -m benchmarks.request_cost --backend postgis --seconds 30 --rounds 3
    python -m benchmarks.request_cost --tiles               # also z14 tiles beside tipg on the city (PostGIS)
    python -m benchmarks.request_cost --record              # also write its section of benchmarks/RESULTS.md

Per backend: a fresh database with the bundled sample and Bearer tokens
(tests/soak_support.py); gunicorn with deploy/gunicorn.conf.py. In each
round, in turns, each after an unmeasured warm-up, 30 clients in a closed
loop: the hello app (benchmarks/hello.py) under the same gunicorn settings;
the registry under the soak test's readers (request lists and pages, owners,
figures, map data with commune boundaries, tiles); and the registry under the
per-request mix (the same without the figures and boundaries, whose cost grows
with the registry: issue 16 item 2). The machine is shared and its load moves,
so each read load's req/s is read as a share of hello's, beside the targets.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))  # the soak test's load and servers, shared rather than copied

from soak_support import (  # noqa: E402
    Client,
    LoadPlan,
    MixedLoad,
    Outcomes,
    Registry,
    log_errors,
    percentile,
    prepare_registry,
    start_web,
)

from .harness import FIGURE_HEADER, FULL, Figure, Scale, fresh_database, reachable_backends  # noqa: E402
from .load import closed_loop, deploy_size, hello_load, load_average, machine, record  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
SECTION = "## Per-request cost (issue 16)"
CLIENTS = 30
SECONDS, ROUNDS = 15, 2
#: Unmeasured load first: gunicorn starts its workers' apps lazily, seconds apart on a loaded machine.
WARMUP_SECONDS = 8
#: Issue 16: the read load's throughput as a share of hello's under the same gunicorn, per backend.
TARGET_SHARE = {"postgis": 0.25, "spatialite": 0.20}
TARGET_P95_MS = 150


#: The loads of a round, in the order they run: the ceiling, the soak test's readers (figures and commune
#: boundaries among them, which grow with the registry: issue 16 item 2), and the per-request read mix without them.
HELLO, READS, PER_REQUEST = "hello", "reads", "per-request reads"


@dataclass
class Load:
    outcomes: Outcomes
    seconds: float

    @property
    def rate(self) -> float:
        return len(self.outcomes.snapshot()) / self.seconds

    @property
    def p95(self) -> float:
        return percentile([item.seconds * 1000 for item in self.outcomes.snapshot()], 0.95)


def per_request_step(registry: Registry):
    """One call of the per-request mix: request lists, owners, map data near a lens, and tiles."""

    def step(client: Client, number: int, rng) -> None:
        desk = registry.desks[number % len(registry.desks)]
        choice = rng.randrange(6)
        if choice == 0:
            client.call("GET", "/api/v1/footage-requests?page=1&page_size=20", "/api/v1/footage-requests")
        elif choice == 1:
            client.call("GET", "/requests", "/requests")
        elif choice == 2:
            client.call("GET", f"/api/v1/owners?page={rng.randint(1, 3)}&page_size=20", "/api/v1/owners")
        elif choice == 3:
            lon, lat = rng.choice(desk.lens_points)
            bbox = f"{lon - 0.004},{lat - 0.003},{lon + 0.004},{lat + 0.003}"
            client.call("GET", f"/api/v1/map/lenses?bbox={bbox}&zoom=16", "/api/v1/map/lenses")
        else:
            z, x, y = rng.choice(registry.tiles)
            client.call("GET", f"/tiles/lenses/{z}/{x}/{y}.mvt", "/tiles/lenses/<z>/<x>/<y>.mvt")

    return step


def _run_loads(
    backend: str, url: str, registry: Registry, seconds: float, log_path, warmup_seconds: float
) -> dict[str, Load]:
    """Each load once, after an unmeasured warm-up, in its own gunicorn with the deploy settings."""
    work = Path(tempfile.mkdtemp(prefix=f"cr-bench-cost-{backend}-"))

    def reads(duration: float) -> Outcomes:
        return MixedLoad(base_url, registry, LoadPlan(seconds=duration, threads={"reader": CLIENTS}, seed=16)).run()

    def per_request(duration: float) -> Outcomes:
        return closed_loop(base_url, duration, CLIENTS, per_request_step(registry), headers)[0]

    def headers(number: int) -> dict[str, str]:
        return registry.staff_headers if number % 2 else registry.desks[number % len(registry.desks)].headers

    def hello(duration: float) -> Outcomes:
        return hello_load(base_url, duration, CLIENTS)[0]

    measured = {}
    try:
        for name, run in ((HELLO, hello), (READS, reads), (PER_REQUEST, per_request)):
            app = {"app": "benchmarks.hello:app"} if name == HELLO else {}
            web, base_url = start_web(url, work / "instance", log_path(name), **app)
            try:
                run(warmup_seconds)
                start = time.monotonic()
                outcomes = run(seconds)
                measured[name] = Load(outcomes, time.monotonic() - start)
            finally:
                web.stop()
            for line in log_errors(web.log_text()):
                print(f"  gunicorn log: {line}", flush=True)
            if name != HELLO:
                for route, count, p95 in routes(outcomes):
                    print(f"  {name} {route}: {count} answers, p95 {p95:.1f} ms", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return measured


def measure(
    backend: str, seconds: float, rounds: int, log_dir: Path, warmup_seconds: float = WARMUP_SECONDS
) -> list[dict[str, Load]]:
    measured = []
    with fresh_database(backend) as engine:
        url = engine.url.render_as_string(hide_password=False)
        registry = prepare_registry(url)
        for number in range(rounds):
            loads = _run_loads(
                backend,
                url,
                registry,
                seconds,
                lambda name: log_dir / f"{backend}-{name.replace(' ', '-')}-{number}.log",
                warmup_seconds,
            )
            measured.append(loads)
            for line in round_lines(backend, number + 1, loads):
                print(line, flush=True)
    return measured


def routes(outcomes: Outcomes) -> list[tuple[str, int, float]]:
    """Each route of a load: how many answers and their p95, slowest first."""
    by_route: dict[str, list[float]] = {}
    for item in outcomes.snapshot():
        by_route.setdefault(item.route, []).append(item.seconds * 1000)
    found = [(route, len(times), percentile(times, 0.95)) for route, times in by_route.items()]
    return sorted(found, key=lambda row: -row[2])


def round_lines(backend: str, number: int, loads: dict[str, Load]) -> list[str]:
    hello = loads[HELLO].rate
    return [
        f"| {backend} | {deploy_size(backend)} | {number} | {name} | {load.rate:.0f} | {load.p95:.1f} | "
        f"{load.rate / hello:.0%} | {len(load.outcomes.server_errors())} |"
        for name, load in loads.items()
    ]


def summary_figures(backend: str, measured: list[dict[str, Load]]) -> list[Figure]:
    """The whole run per read load: its share of the ceiling, p95 and errors, each beside its target."""

    def pooled(name: str) -> tuple[float, list[float], int]:
        loads = [loads[name] for loads in measured]
        rate = sum(len(load.outcomes.snapshot()) for load in loads) / sum(load.seconds for load in loads)
        times = [item.seconds * 1000 for load in loads for item in load.outcomes.snapshot()]
        return rate, times, sum(len(load.outcomes.server_errors()) for load in loads)

    hello, _, _ = pooled(HELLO)
    figures = []
    for name in (READS, PER_REQUEST):
        rate, times, errors = pooled(name)
        share, target, p95 = rate / hello, TARGET_SHARE[backend], percentile(times, 0.95)
        figures.append(
            Figure(
                backend,
                f"{name} under gunicorn, {CLIENTS} clients",
                f"{rate:.0f} req/s, p95 {p95:.1f} ms, {errors} server errors",
                share,
                f"hello's {hello:.0f} req/s",
                f"at least {target:g}x hello's req/s, p95 < {TARGET_P95_MS} ms, 0 server errors",
                share >= target and p95 < TARGET_P95_MS and errors == 0,
            )
        )
    return figures


HEADER = [
    "| backend | gunicorn workers x threads | round | load | req/s | p95 ms | share of hello | server errors |",
    "| --- | --- | --- | --- | --- | --- | --- | --- |",
]


def section(rounds: list[str], summaries: list[str], tiles: list[str], seconds: float, before, after, command) -> str:
    return "\n".join(
        [
            SECTION,
            "",
            f"Measured {date.today().isoformat()} on {machine()} with `{command}`: {CLIENTS} clients, {seconds:g} s "
            f"per load, hello and the two read loads taking turns. Load average (1, 5, 15 min) before: {before}; "
            f"after: {after}.",
            "",
            "Targets (issue 16, item 1): a read load at least 25 % of hello's req/s on PostGIS and 20 % on "
            f"SpatiaLite, p95 under {TARGET_P95_MS} ms, 0 server errors; a z14 tile's p95 at most 1.0x tipg's, "
            "alternating in one run.",
            "",
            "`reads` is the soak test's readers (request lists and pages, owners, figures, map data with commune "
            "boundaries, tiles); `per-request reads` the same without the figures and the boundaries, whose cost "
            "grows with the registry (issue 16 item 2).",
            "",
            *FIGURE_HEADER,
            *summaries,
            *tiles,
            "",
            *HEADER,
            *rounds,
            "",
        ]
    )


def tile_lines() -> list[str]:
    """The city's z14 tiles from this app and from tipg, alternating, on PostGIS: their lines and the ratio."""
    from camera_registry.db import make_session_factory
    from camera_registry.services.sample import load_dataset

    from .__main__ import city_dataset
    from .tiles import bench_tiles

    directory, _ = city_dataset(FULL)
    with fresh_database("postgis") as engine:
        sessions = make_session_factory(engine)
        with sessions() as session:
            load_dataset(session, directory)
            session.commit()
        with engine.connect() as connection:
            connection.exec_driver_sql("ANALYZE")
            connection.commit()
        figures = bench_tiles("postgis", engine.url.render_as_string(hide_password=False), sessions)
    return [figure.line for figure in figures if "tipg" in figure.measure]


def suite_figures(backends: list[str], scale: Scale) -> list[Figure]:
    """What `make bench` shows of it: one round per backend, its loads as long as the scale's."""
    log_dir = Path(tempfile.mkdtemp(prefix="cr-bench-cost-logs-"))
    return [
        figure
        for backend in backends
        for figure in summary_figures(
            backend, measure(backend, scale.load_seconds, 1, log_dir, warmup_seconds=scale.warmup_seconds)
        )
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=("spatialite", "postgis"), action="append")
    parser.add_argument("--seconds", type=float, default=SECONDS, help=f"per load (default {SECONDS})")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help=f"hello + read load turns (default {ROUNDS})")
    parser.add_argument("--tiles", action="store_true", help="also z14 tiles beside tipg on the city (PostGIS)")
    parser.add_argument("--record", action="store_true", help="also write its section of benchmarks/RESULTS.md")
    args = parser.parse_args(argv)
    backends, skipped = reachable_backends(args.backend or ["spatialite", "postgis"])
    before = load_average()
    log_dir = Path(tempfile.mkdtemp(prefix="cr-bench-cost-logs-"))
    print("\n".join(HEADER), flush=True)
    rounds, summaries = [], []
    for backend in backends:
        measured = measure(backend, args.seconds, args.rounds, log_dir)
        rounds += [line for number, loads in enumerate(measured) for line in round_lines(backend, number + 1, loads)]
        summaries += [figure.line for figure in summary_figures(backend, measured)]
    tiles = tile_lines() if args.tiles and "postgis" in backends else []
    after = load_average()
    for line in [*FIGURE_HEADER, *summaries, *tiles, *skipped]:
        print(line, flush=True)
    print(f"load average before: {before}; after: {after}; gunicorn logs in {log_dir}", flush=True)
    if args.record:
        command = "python -m benchmarks.request_cost" + (" " + " ".join(argv) if argv else "")
        record(section(rounds, summaries + skipped, tiles, args.seconds, before, after, command), title=SECTION)
        print(f"recorded in {RESULTS}")


if __name__ == "__main__":
    main(sys.argv[1:])
