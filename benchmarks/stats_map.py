"""Figures and the coverage map's data on the 55,000-lens city, through the API as an administrator.

    python -m benchmarks.stats_map            # both backends, at 55,000 and at 550,000 lenses
    python -m benchmarks.stats_map --record   # also write its section of benchmarks/RESULTS.md

- /api/v1/stats/admin-units for all 126 communes (and rolled up to the city);
- what /map fetches for a view of the whole city (its lenses, clustered, and its
  communes with figures and boundaries): time for both answers and their bytes;
- the same close in (zoom 17), where lenses come one by one with their wedges;
- beside them, the recount of every commune's registry figures from the raw rows: what each of those answers
  cost before the per-commune summary (services/commune_figures.py), which the scheduler's refresh fills here
  right after the load, as it does after a bulk load in service (and the coverage refresh after it, whose stored
  rows the figures and the map's communes read).

Issue 16 item 2's targets: stats for the 126 communes and the whole-city view p95 under 50 ms at 55,000 lenses
and at most 1.5x that at 550,000 (`main` prints the ratios).
"""

from __future__ import annotations

import argparse
import math
import re
import sys
import tempfile
from dataclasses import replace
from datetime import date
from pathlib import Path

from sqlalchemy import select, text

from camera_registry import create_app
from camera_registry.db import make_session_factory
from camera_registry.geo.mapview import TILE_PX
from camera_registry.models import AdminLevel, AdminUnit, Role
from camera_registry.models.base import utcnow
from camera_registry.services.access import SYSTEM
from camera_registry.services.accounts import create_token, create_user
from camera_registry.services.commune_coverage import refresh_commune_coverage
from camera_registry.services.commune_figures import count_registry, refresh_commune_figures
from camera_registry.services.coverage import reach_extent
from camera_registry.services.sample import load_dataset
from camera_registry.services.sample_generator import generate_city

from .harness import FULL, fresh_database, reachable_backends, time_calls
from .load import load_average, machine, record

RUNS = 50
VIEWPORT_PX = (1280, 900)
TARGET_STATS_MS, TARGET_VIEW_MS, TARGET_VIEW_BYTES = 200, 300, 1_000_000
#: Issue 16 item 2: the 126 communes' figures and the whole-city view, at 55,000 lenses and (at most 1.5x) 550,000.
TARGET_SUMMARY_MS, TARGET_GROWTH = 50, 1.5
SECTION = "## Figures that do not grow with the registry (issue 16, item 2)"
SIZES = (FULL.lenses, 10 * FULL.lenses)
DATA_DIR = Path(__file__).resolve().parent / "data"


def fitting_zoom(extent: tuple[float, float, float, float]) -> int:
    """The largest whole zoom at which a VIEWPORT_PX map shows the whole box (as Leaflet's fitBounds picks)."""
    min_lon, min_lat, max_lon, max_lat = extent
    mercator = lambda lat: math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))  # noqa: E731
    across = VIEWPORT_PX[0] * 360 / (TILE_PX * (max_lon - min_lon))
    down = VIEWPORT_PX[1] * 2 * math.pi / (TILE_PX * (mercator(max_lat) - mercator(min_lat)))
    return math.floor(math.log2(min(across, down)))


def bench_stats_map(backend: str, url: str, sessions) -> list[str]:
    refresh_commune_figures(sessions, None, utcnow())  # as the scheduler does right after a bulk load
    refresh_commune_coverage(sessions, None, utcnow())  # and a minute later: the figures read the stored coverage
    with sessions() as session:
        # On PostgreSQL autovacuum analyses a table within a minute of a bulk load: time the plans a running
        # registry gets, not those for tables the planner has no statistics on yet (twice as slow here).
        session.execute(text("ANALYZE"))
        communes = list(session.scalars(select(AdminUnit.id).where(AdminUnit.level == AdminLevel.COMMUNE)))
        recount = time_calls(lambda: count_registry(session, communes, utcnow()), RUNS)
        user = create_user(session, SYSTEM, "bench-stats", "bench-password", Role.ADMIN, None)
        _, secret = create_token(session, SYSTEM, user, "benchmark")
        session.commit()
        extent = reach_extent(session, SYSTEM)
    headers = {"Authorization": f"Bearer {secret}"}
    lines = [
        f"| {backend} | recount every commune's registry figures from the raw rows (before the summary) | "
        f"p50 {recount.p50_ms:.1f} ms | p95 {recount.p95_ms:.1f} ms | | what each answer below paid before |"
    ]
    with tempfile.TemporaryDirectory(prefix="cr-bench-instance-") as instance:
        app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": instance, "SECRET_KEY": "bench"})
        client = app.test_client()

        def get(path: str) -> bytes:
            response = client.get(path, headers=headers)
            if response.status_code != 200:
                raise SystemExit(f"{backend} {path}: {response.status_code} {response.get_data(as_text=True)[:500]}")
            return response.data

        for label, path, target_ms in (
            ("stats, all 126 communes", "/api/v1/stats/admin-units", TARGET_SUMMARY_MS),
            ("stats, rolled up to the city", "/api/v1/stats/admin-units?level=province", TARGET_STATS_MS),
            ("stats, all 126 communes as XLSX", "/api/v1/stats/admin-units?format=xlsx", TARGET_STATS_MS),
        ):
            timing = time_calls(lambda: get(path), RUNS)
            lines.append(
                f"| {backend} | GET {label} | p50 {timing.p50_ms:.1f} ms | p95 {timing.p95_ms:.1f} ms | | "
                f"target p95 < {target_ms} ms |"
            )

        zoom = fitting_zoom(extent)
        centre_lon, centre_lat = (extent[0] + extent[2]) / 2, (extent[1] + extent[3]) / 2
        for label, view, view_zoom, target_ms in (
            (f"whole city (zoom {zoom})", extent, zoom, TARGET_SUMMARY_MS),
            (
                "close in (zoom 17)",
                (centre_lon - 0.0035, centre_lat - 0.0025, centre_lon + 0.0035, centre_lat + 0.0025),
                17,
                TARGET_VIEW_MS,
            ),
        ):
            query = f"bbox={','.join(f'{v:.6f}' for v in view)}&zoom={view_zoom}"
            sizes = []

            def map_data():
                sizes.append(len(get(f"/api/v1/map/lenses?{query}")) + len(get(f"/api/v1/map/communes?{query}")))

            timing = time_calls(map_data, RUNS)
            lines.append(
                f"| {backend} | map data of a {VIEWPORT_PX[0]}x{VIEWPORT_PX[1]} view, {label}: lenses + "
                f"communes, {max(sizes) / 1000:.0f} kB | p50 {timing.p50_ms:.1f} ms | p95 {timing.p95_ms:.1f} ms | "
                f"| target < {target_ms} ms, < {TARGET_VIEW_BYTES / 1e6:g} MB |"
            )
        app.extensions["engine"].dispose()
    return lines


def measure(backend: str, lenses: int) -> list[str]:
    """bench_stats_map on a fresh database holding the city at `lenses` lenses."""
    city = replace(FULL, lenses=lenses).city()
    directory = DATA_DIR / "{preset}-{lenses}-{sites}-seed{seed}".format(**city)  # where `make bench` keeps it
    generate_city(directory, **city)
    with fresh_database(backend) as engine:
        sessions = make_session_factory(engine)
        with sessions() as session:
            load_dataset(session, directory)
            session.commit()
        lines = bench_stats_map(backend, engine.url.render_as_string(hide_password=False), sessions)
    return [line.replace(f"| {backend} |", f"| {backend} | {lenses:,} |", 1) for line in lines]


def growth(lines: list[str]) -> list[str]:
    """Per backend and measure, the p95 at the largest size over the p95 at the smallest, beside TARGET_GROWTH."""
    p95s: dict[tuple[str, str], list[float]] = {}
    for line in lines:
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        found = re.search(r"p95 ([\d.]+) ms", cells[4])
        if found:
            measure = re.sub(r"zoom \d+", "zoom", re.sub(r", \d+ kB", "", cells[2]))
            p95s.setdefault((cells[0], measure), []).append(float(found[1]))
    return [
        f"| {backend} | {SIZES[-1]:,} / {SIZES[0]:,} | {measure} | p95 ratio {values[-1] / values[0]:.2f}x | | "
        f"target at most {TARGET_GROWTH:g}x for the 126 communes' stats and the whole-city view |"
        for (backend, measure), values in p95s.items()
        if len(values) > 1
    ]


def section(lines: list[str], before: str, after: str, command: str) -> str:
    return "\n".join(
        [
            SECTION,
            "",
            f"Measured {date.today().isoformat()} on {machine()} with `{command}`: {RUNS} calls of each through the "
            f"API as an administrator, on the generated Hà Nội city at {' and '.join(f'{n:,}' for n in SIZES)} "
            f"lenses, after the scheduler's refresh of the per-commune summary. Load average (1, 5, 15 min) "
            f"before: {before}; after: {after}.",
            "",
            f"Target (issue 16, item 2): stats for the 126 communes and the whole-city view p95 under "
            f"{TARGET_SUMMARY_MS} ms at {SIZES[0]:,} lenses and at most {TARGET_GROWTH:g}x that at {SIZES[-1]:,}.",
            "",
            "| backend | lenses | measure | p50 | p95 | | target |",
            "| --- | --- | --- | --- | --- | --- | --- |",
            *lines,
        ]
    )


def main(argv: list[str] | None = None) -> None:
    global RUNS  # as `make bench` sets it for a quick run
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=("spatialite", "postgis"), action="append")
    parser.add_argument("--lenses", type=int, action="append", help=f"city sizes (default {SIZES})")
    parser.add_argument("--runs", type=int, default=RUNS, help=f"calls of each (default {RUNS})")
    parser.add_argument("--record", action="store_true", help="also write its section of benchmarks/RESULTS.md")
    args = parser.parse_args(argv)
    RUNS = args.runs
    backends, skipped = reachable_backends(args.backend or ["spatialite", "postgis"])
    before = load_average()
    lines = []
    for backend in backends:
        for lenses in args.lenses or SIZES:
            measured = measure(backend, lenses)
            print("\n".join(measured), flush=True)  # as each city is done: a 550,000-lens load takes minutes
            lines += measured
    summary = growth(lines) + skipped
    print("\n".join(summary), flush=True)
    lines += summary
    after = load_average()
    print(f"load average before: {before}; after: {after}", flush=True)
    if args.record:
        command = "python -m benchmarks.stats_map" + (" " + " ".join(argv) if argv else "")
        record(section(lines, before, after, command), title=SECTION)


if __name__ == "__main__":
    main(sys.argv[1:])
