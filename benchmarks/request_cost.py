"""The per-request cost (issue 16, item 1): a mixed read load against the ceiling, and tiles against tipg.

    python -m benchmarks.request_cost                       # both backends, 15 s per load, 2 rounds
    python -m benchmarks.request_cost --backend postgis --seconds 30 --rounds 3
    python -m benchmarks.request_cost --tiles               # also z14 tiles beside tipg on the city (PostGIS)
    python -m benchmarks.request_cost --record              # also write its section of benchmarks/RESULTS.md

Per backend: a fresh database with the bundled sample and Bearer tokens
(tests/soak_support.py); gunicorn with deploy/gunicorn.conf.py. In each
round, the hello app (benchmarks/hello.py) under the same gunicorn settings,
then the registry under the read mix of the soak test's readers: request
lists and pages, owners, figures, map data and tiles, each client with its
own token, 30 clients, closed loop, after an unmeasured warm-up. The machine is shared and its load
moves, so the figures are read as ratios of the two measured in turns: the
read load's req/s as a share of hello's, beside the targets.
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

from soak_support import LoadPlan, MixedLoad, Outcomes, log_errors, percentile, prepare_registry, start_web  # noqa: E402

from .harness import fresh_database, reachable_backends  # noqa: E402
from .load import deploy_size, hello_load, load_average, machine, record  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
SECTION = "## Per-request cost (issue 16)"
CLIENTS = 30
SECONDS, ROUNDS = 15, 2
#: Unmeasured load first: gunicorn starts its workers' apps lazily, seconds apart on a loaded machine.
WARMUP_SECONDS = 8
#: Issue 16: the read load's throughput as a share of hello's under the same gunicorn, per backend.
TARGET_SHARE = {"postgis": 0.25, "spatialite": 0.20}
TARGET_P95_MS = 150


@dataclass
class Round:
    hello: Outcomes
    hello_seconds: float
    reads: Outcomes
    reads_seconds: float


def _rate(outcomes: Outcomes, seconds: float) -> float:
    return len(outcomes.snapshot()) / seconds


def _p95(outcomes: Outcomes) -> float:
    return percentile([item.seconds * 1000 for item in outcomes.snapshot()], 0.95)


def measure(backend: str, seconds: float, rounds: int, log_dir: Path) -> list[Round]:
    measured = []
    with fresh_database(backend) as engine:
        url = engine.url.render_as_string(hide_password=False)
        registry = prepare_registry(url)
        work = Path(tempfile.mkdtemp(prefix=f"cr-bench-cost-{backend}-"))
        try:
            for number in range(rounds):
                web, base_url = start_web(
                    url, work / "instance", log_dir / f"{backend}-hello-{number}.log", app="benchmarks.hello:app"
                )
                try:
                    hello_load(base_url, WARMUP_SECONDS, CLIENTS)
                    hello, hello_seconds = hello_load(base_url, seconds, CLIENTS)
                finally:
                    web.stop()
                web, base_url = start_web(url, work / "instance", log_dir / f"{backend}-reads-{number}.log")
                try:
                    MixedLoad(base_url, registry, LoadPlan(seconds=WARMUP_SECONDS, threads={"reader": CLIENTS})).run()
                    reads = Outcomes()
                    plan = LoadPlan(seconds=seconds, threads={"reader": CLIENTS}, seed=16 + number)
                    load = MixedLoad(base_url, registry, plan, reads)
                    start = time.monotonic()
                    load.run()
                    reads_seconds = time.monotonic() - start
                finally:
                    web.stop()
                for crash in load.crashes[:1]:
                    print(f"  load client crashed: {crash}", flush=True)
                for line in log_errors(web.log_text()):
                    print(f"  gunicorn log: {line}", flush=True)
                for route, count, p95 in routes(reads):
                    print(f"  {route}: {count} answers, p95 {p95:.1f} ms", flush=True)
                measured.append(Round(hello, hello_seconds, reads, reads_seconds))
                print(_round_line(backend, number + 1, measured[-1]), flush=True)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return measured


def routes(outcomes: Outcomes) -> list[tuple[str, int, float]]:
    """Each route of the read mix: how many answers and their p95, slowest first."""
    by_route: dict[str, list[float]] = {}
    for item in outcomes.snapshot():
        by_route.setdefault(item.route, []).append(item.seconds * 1000)
    found = [(route, len(times), percentile(times, 0.95)) for route, times in by_route.items()]
    return sorted(found, key=lambda row: -row[2])


def _round_line(backend: str, number: int, measured: Round) -> str:
    hello_rate, reads_rate = (
        _rate(measured.hello, measured.hello_seconds),
        _rate(measured.reads, measured.reads_seconds),
    )
    errors = len(measured.reads.server_errors()) + len(measured.hello.server_errors())
    return (
        f"| {backend} | {deploy_size(backend)} | {number} | {hello_rate:.0f} | {_p95(measured.hello):.1f} | "
        f"{reads_rate:.0f} | {_p95(measured.reads):.1f} | {reads_rate / hello_rate:.0%} | {errors} |"
    )


def summary_line(backend: str, measured: list[Round]) -> str:
    """The whole run: the share of the ceiling, the read load's p95 and its errors, each beside its target."""
    hello = sum(len(r.hello.snapshot()) for r in measured) / sum(r.hello_seconds for r in measured)
    reads = sum(len(r.reads.snapshot()) for r in measured) / sum(r.reads_seconds for r in measured)
    p95 = percentile([item.seconds * 1000 for r in measured for item in r.reads.snapshot()], 0.95)
    errors = sum(len(r.reads.server_errors()) for r in measured)
    share, target = reads / hello, TARGET_SHARE[backend]
    verdict = "met" if share >= target and p95 < TARGET_P95_MS and errors == 0 else "NOT met"
    return (
        f"| {backend} | read load / hello, {CLIENTS} clients | {share:.0%} (target >= {target:.0%}) | "
        f"p95 {p95:.1f} ms (target < {TARGET_P95_MS} ms) | {errors} server errors (target 0) | {verdict} |"
    )


HEADER = [
    "| backend | gunicorn workers x threads | round | hello req/s | hello p95 ms | read load req/s | read p95 ms | "
    "read / hello | server errors |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
]
SUMMARY_HEADER = ["| backend | measure | ratio | p95 | errors | targets |", "| --- | --- | --- | --- | --- | --- |"]


def section(rounds: list[str], summaries: list[str], tiles: list[str], seconds: float, before, after, command) -> str:
    return "\n".join(
        [
            SECTION,
            "",
            f"Measured {date.today().isoformat()} on {machine()} with `{command}`: {CLIENTS} clients, {seconds:g} s "
            f"per load, hello and the read load taking turns. Load average (1, 5, 15 min) before: {before}; "
            f"after: {after}.",
            "",
            "Targets (issue 16, item 1): the read load at least 25 % of hello's req/s on PostGIS and 20 % on "
            f"SpatiaLite, p95 under {TARGET_P95_MS} ms, 0 server errors; a z14 tile's p95 at most 1.0x tipg's, "
            "alternating in one run.",
            "",
            *SUMMARY_HEADER,
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

    directory, _ = city_dataset()
    with fresh_database("postgis") as engine:
        sessions = make_session_factory(engine)
        with sessions() as session:
            load_dataset(session, directory)
            session.commit()
        with engine.connect() as connection:
            connection.exec_driver_sql("ANALYZE")
            connection.commit()
        lines = bench_tiles("postgis", engine.url.render_as_string(hide_password=False), sessions)
    return [line for line in lines if "tipg" in line]


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
        rounds += [_round_line(backend, number + 1, one) for number, one in enumerate(measured)]
        summaries.append(summary_line(backend, measured))
    tiles = tile_lines() if args.tiles and "postgis" in backends else []
    after = load_average()
    for line in [*SUMMARY_HEADER, *summaries, *tiles, *skipped]:
        print(line, flush=True)
    print(f"load average before: {before}; after: {after}; gunicorn logs in {log_dir}", flush=True)
    if args.record:
        command = "python -m benchmarks.request_cost" + (" " + " ".join(argv) if argv else "")
        record(section(rounds, summaries + skipped, tiles, args.seconds, before, after, command), title=SECTION)
        print(f"recorded in {RESULTS}")


if __name__ == "__main__":
    main(sys.argv[1:])
