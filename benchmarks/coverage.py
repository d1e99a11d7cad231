"""Coverage per commune (services/commune_coverage.py) on the generated Hà Nội city.

    python -m benchmarks.coverage            # both backends, the 55,000-lens city
    python -m benchmarks.coverage --quick    # the quick run's 6,000-lens city
    python -m benchmarks.coverage --record   # also write its section of benchmarks/RESULTS.md

- a full recompute of every commune (126): read, unite the fields of view, clip, draw and store (issue 18 item
  3's target: 2 s), beside the geometry alone on the same reading (what the rest costs is the difference);
- the scheduler's incremental refresh after one lens is re-aimed: it must recompute exactly the lens's commune and
  those within 500 m of it, and is shown as a ratio to a recompute of those same communes (what the marks and
  the bookkeeping add) and to the full recompute, both measured in the same run;
- reading the 126 communes' figures back (what the figures page and the exports will call).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import date

from sqlalchemy import func, select

from camera_registry.db import READ, make_session_factory, open_session, write_unit
from camera_registry.models import AdminLevel, AdminUnit, Lens, LensStatus
from camera_registry.models.base import utcnow
from camera_registry.services import commune_coverage, commune_figures
from camera_registry.services.sample import load_dataset
from camera_registry.services.sample_generator import generate_city

from .harness import (
    FIGURE_HEADER,
    FULL,
    QUICK,
    Figure,
    Scale,
    at_most,
    fresh_database,
    peer,
    reachable_backends,
    seconds_under,
    time_calls,
    timed_under,
)
from .load import load_average, machine, record
from .stats_map import DATA_DIR

SECTION = "## Coverage per commune (issue 18, item 3)"
TARGET_FULL_S, TARGET_INCREMENTAL_RATIO, TARGET_READ_MS = 2.0, 1.2, 50
FULL_RUNS, INCREMENTAL_RUNS, READ_RUNS = 3, 5, 50
TARGETS = (
    f"Target (issue 18, item 3): coverage for all 126 communes recomputed in under {TARGET_FULL_S:g} s; an "
    f"incremental refresh after one lens changes recomputes only the communes within 500 m of its own and costs at "
    f"most {TARGET_INCREMENTAL_RATIO:g}x a recompute of those; reading the 126 communes' figures p95 under "
    f"{TARGET_READ_MS} ms."
)


def _seconds(call) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def bench_coverage(backend: str, sessions, scale: Scale) -> list[Figure]:
    """The figures, on a database holding the city (the per-commune figures refreshed as the scheduler would)."""
    commune_figures.refresh_commune_figures(sessions, None, utcnow())
    with open_session(sessions, READ) as session:
        communes = list(
            session.scalars(
                select(AdminUnit.id).where(AdminUnit.level == AdminLevel.COMMUNE, AdminUnit.boundary.is_not(None))
            )
        )
        lenses = session.scalar(select(func.count()).where(Lens.status == LensStatus.ACTIVE))
        busiest = session.scalar(
            select(Lens.id)
            .where(Lens.status == LensStatus.ACTIVE)
            .order_by(Lens.commune_id, Lens.id)
            .offset(lenses // 2)
            .limit(1)
        )
    now = utcnow()
    full = [
        _seconds(lambda: commune_coverage.recompute_coverage(sessions, None, now))
        for _ in range(scale.calls(FULL_RUNS, 1))
    ]
    with open_session(sessions, READ) as session:
        reading = commune_coverage.read_inputs(session, None, now)
    geometry = _seconds(lambda: commune_coverage.compute_covers(reading))
    full_s = statistics.median(full)

    def reaim(session):
        lens = session.get(Lens, busiest)
        lens.bearing_deg = ((lens.bearing_deg or 0.0) + 45.0) % 360

    commune_coverage.refresh_coverage(sessions, utcnow())  # takes the load's marks, as the scheduler's first run
    with open_session(sessions, READ) as session:
        changed = commune_coverage.near_communes(session, [session.get(Lens, busiest).commune_id])
    incremental, same_communes = [], []
    for _ in range(scale.calls(INCREMENTAL_RUNS, 2)):
        write_unit(sessions, reaim)
        commune_figures.refresh_commune_figures(sessions, None, utcnow())  # hands the lens's mark on
        start = time.perf_counter()
        counts = commune_coverage.refresh_coverage(sessions, utcnow())
        incremental.append(time.perf_counter() - start)
        if counts["coverage_stored"] != len(changed):
            raise SystemExit(f"{backend}: the refresh stored {counts}, not the {len(changed)} communes near the lens")
        same_communes.append(_seconds(lambda: commune_coverage.recompute_coverage(sessions, changed, utcnow())))
    incremental_s, same_s = statistics.median(incremental), statistics.median(same_communes)
    with open_session(sessions, READ) as session:
        read = time_calls(
            lambda: commune_coverage.coverage_figures(session, communes, utcnow()), scale.calls(READ_RUNS)
        )
    return [
        seconds_under(
            backend, f"full recompute, {len(communes)} communes, {lenses:,} active lenses", full_s, TARGET_FULL_S
        ),
        peer(
            backend,
            "of which the geometry (unite, clip, measure)",
            f"{geometry:.2f} s",
            f"{geometry / full_s:.2f}x the full recompute",
        ),
        at_most(
            backend,
            f"incremental refresh after one lens is re-aimed ({len(changed)} of {len(communes)} communes recomputed)",
            f"{incremental_s * 1000:.0f} ms, {incremental_s / full_s:.2f}x the full recompute",
            incremental_s / same_s,
            f"a recompute of those {len(changed)} ({same_s * 1000:.0f} ms)",
            TARGET_INCREMENTAL_RATIO,
        ),
        timed_under(backend, f"read the {len(communes)} communes' coverage figures", read, TARGET_READ_MS),
    ]


def measure(backend: str, scale: Scale) -> list[Figure]:
    city = scale.city()
    directory = DATA_DIR / "{preset}-{lenses}-{sites}-seed{seed}".format(**city)  # where `make bench` keeps it
    generate_city(directory, **city)
    with fresh_database(backend) as engine:
        sessions = make_session_factory(engine)
        with sessions() as session:
            load_dataset(session, directory)
            session.commit()
        return bench_coverage(backend, sessions, scale)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=("spatialite", "postgis"), action="append")
    parser.add_argument("--quick", action="store_true", help="the quick run's smaller city, fewer calls")
    parser.add_argument("--record", action="store_true", help="also write its section of benchmarks/RESULTS.md")
    args = parser.parse_args(argv)
    scale = QUICK if args.quick else FULL
    backends, skipped = reachable_backends(args.backend or ["spatialite", "postgis"])
    before = load_average()
    print("\n".join(FIGURE_HEADER), flush=True)
    figures = []
    for backend in backends:
        for figure in measure(backend, scale):
            print(figure.line, flush=True)
            figures.append(figure)
    after = load_average()
    print("\n".join(skipped), f"load average before: {before}; after: {after}", sep="\n", flush=True)
    if args.record:
        command = "python -m benchmarks.coverage" + (" " + " ".join(argv) if argv else "")
        record(
            "\n".join(
                [
                    SECTION,
                    "",
                    f"Measured {date.today().isoformat()} on {machine()} with `{command}` ({scale.lenses:,}-lens "
                    f"Hà Nội city). Load average (1, 5, 15 min) before: {before}; after: {after}.",
                    "",
                    TARGETS,
                    "",
                    *FIGURE_HEADER,
                    *(figure.line for figure in figures),
                    *skipped,
                ]
            ),
            title=SECTION,
        )


if __name__ == "__main__":
    main(sys.argv[1:])
