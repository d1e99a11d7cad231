"""Run the benchmark suite on both backends and print every figure beside its target.

    python -m benchmarks             # the full run on the 55,000-lens city (make bench)
    python -m benchmarks --quick     # every benchmark reduced, under 3 minutes (make bench-quick)
    python -m benchmarks --record    # also write the run's section of benchmarks/RESULTS.md
    python -m benchmarks --national  # also the 3,000,000-lens national set on PostGIS (several minutes)
    python -m benchmarks --full-load # the loads under gunicorn for 120 s each instead of 45 s

Each figure is printed as it is measured: the value, its ratio to a peer or limit measured in the same run
(or to the target's limit), the target and PASS or FAIL; the run ends with the count of each. The parts run
alone too: python -m benchmarks.routing, .bulk_load, .request_cost, .load, .coverage.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import re
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
from geoalchemy2.shape import to_shape
from shapely.geometry import Point
from shapely.prepared import prep
from sqlalchemy import func, select

from camera_registry import create_app
from camera_registry.db import make_session_factory
from camera_registry.geo.sectors import LocalFrame
from camera_registry.geo.spatial import lenses_near
from camera_registry.models import AdminUnit, Lens, Role
from camera_registry.services.access import SYSTEM
from camera_registry.services.accounts import create_token, create_user
from camera_registry.services.imports import OPTIONAL_COLUMNS, REQUIRED_COLUMNS, import_register
from camera_registry.services.requests import DEFAULT_RADIUS_M
from camera_registry.services.sample import MANIFEST, DatasetWriter, dataset_units, load_dataset
from camera_registry.services.sample_generator import generate_city

from . import bulk_load, coverage, load, stats_map
from .harness import (
    FIGURE_HEADER,
    FULL,
    QUICK,
    Figure,
    Scale,
    Timing,
    fresh_database,
    peer,
    postgres_available,
    quiet_logs,
    reachable_backends,
    seconds_under,
    time_calls,
    timed_under,
    under,
)
from .tiles import bench_national, bench_tiles

DATA_DIR = Path(__file__).resolve().parent / "data"
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
SECTION = "## The whole suite (issue 16, item 5)"
RADII = (50, 200, 1000)
TARGET_RADIUS_M, TARGET_NEAR_MS, TARGET_SPEEDUP = 200, 5, 20
TARGET_LOAD_S, TARGET_IMPORT_S = 15, 20
INDEXED_RUNS, SCAN_RUNS = 300, 20
POINT_REQUESTS, ROUTE_REQUESTS, WARMUP = 200, 50, 3
ROUTE_LEGS, ROUTE_M = 3, 2000

TARGETS = """Targets (issue 2): load the 55,000-lens city in under 15 s; lenses_near(200 m)
p95 under 5 ms and at least 20x faster than the same query without the index, on both backends.
Bulk import: a 55,000-row register file in under 20 s on either backend.
Footage requests (issue 4): create + route a 200 m point request through the API p95 under 100 ms;
a 2 km route request (radius 150 m) p95 under 300 ms, on both backends.
Figures and the coverage map (issue 6): /api/v1/stats/admin-units for all 126 communes p95 under 200 ms;
a whole-city view's map data (/api/v1/map lenses + communes) under 300 ms and under 1 MB.
Vector tiles (issue 6): a z14 lens tile over HTTP p95 under 50 ms on both backends, beside tipg on the
same PostGIS table; with --national, a viewport's map data on the 3,000,000-lens set under 1 s (PostGIS).
Issue 16: a read load under gunicorn at least 25 % (PostGIS) / 20 % (SpatiaLite) of hello's req/s, p95 under
150 ms, 0 server errors, a z14 tile's p95 at most 1.0x tipg's (item 1); the sample load and the register
import within 3x COPY / one-transaction executemany (item 3); a 10 km route and a 1,000 m point request
p95 under 300 ms (item 4). Issue 9: the mixed load under gunicorn with 0 server errors. Issue 18: an area
request (a 0.49 km² hexagon, radius 150 m) p95 under 300 ms (item 2); coverage for all 126 communes recomputed
in under 2 s, an incremental refresh after one lens changes at most 1.2x a recompute of the communes it must
recompute (item 3)."""


def city_dataset(scale: Scale = FULL) -> tuple[Path, float]:
    city = scale.city()
    directory = DATA_DIR / "{preset}-{lenses}-{sites}-seed{seed}".format(**city)
    start = time.perf_counter()
    generate_city(directory, **city)
    return directory, time.perf_counter() - start


def query_points(directory: Path, count: int, seed: int = 7) -> list[Point]:
    """Incident-like points: next to registered lenses, where police actually ask."""
    import csv

    with open(directory / "lenses.csv", newline="", encoding="utf-8") as handle:
        rows = [(float(r["lon"]), float(r["lat"])) for r in csv.DictReader(handle)]
    rng = random.Random(seed)
    return [
        Point(lon + rng.uniform(-0.0005, 0.0005), lat + rng.uniform(-0.0005, 0.0005))
        for lon, lat in rng.sample(rows, count)
    ]


def near_figures(backend: str, radius: int, found: float, fast: Timing, slow: Timing) -> list[Figure]:
    """lenses_near at one radius: its p95, and how much faster than without the index. Issue 2 sets targets at
    200 m; the other radii are shown beside it."""
    measure = f"lenses_near {radius} m (avg {found:.0f} found)"
    speedup = slow.p50_ms / fast.p50_ms
    scan = f"p50 without the index ({slow.p50_ms:.1f} ms)"
    if radius != TARGET_RADIUS_M:
        return [peer(backend, measure, fast.measured, f"{1 / speedup:.3f}x {scan}")]
    return [
        under(backend, measure, fast.p95_ms, TARGET_NEAR_MS, measured=fast.measured),
        Figure(
            backend,
            f"lenses_near {radius} m, index against none",
            f"{speedup:.0f}x faster",
            speedup,
            scan.replace("p50 without", "faster than p50 without"),
            f"at least {TARGET_SPEEDUP}x faster",
            speedup >= TARGET_SPEEDUP,
        ),
    ]


def bench_backend(backend: str, directory: Path, scale: Scale) -> list[Figure]:
    figures = []
    with fresh_database(backend) as engine:
        sessions = make_session_factory(engine)
        start = time.perf_counter()
        with sessions() as session:
            report = load_dataset(session, directory)
            session.commit()
        load_s = time.perf_counter() - start
        figures += show(seconds_under(backend, f"load {report.lenses:,} lenses", load_s, TARGET_LOAD_S))
        indexed_runs, scan_runs = scale.calls(300), scale.calls(20, least=3)
        points = query_points(directory, indexed_runs)
        with sessions() as session:
            for radius in RADII:
                indexed_points, scan_points = iter(points * 10), iter(points * 10)

                def indexed():
                    return lenses_near(session, next(indexed_points), radius)

                def scan():
                    return lenses_near(session, next(scan_points), radius, use_index=False)

                found = sum(len(lenses_near(session, p, radius)) for p in points[:50]) / len(points[:50])
                fast = time_calls(indexed, indexed_runs)
                slow = time_calls(scan, scan_runs, warmup=1)
                figures += show(*near_figures(backend, radius, found, fast, slow))
        url = engine.url.render_as_string(hide_password=False)
        figures += show(*bench_requests(backend, url, sessions, scale))
        figures += show(*bench_tiles(backend, url, sessions, scale))
        stats_map.RUNS = scale.calls(stats_map.RUNS)
        figures += show(*stats_map_figures(backend, stats_map.bench_stats_map(backend, url, sessions)))
        figures += show(*coverage.bench_coverage(backend, sessions, scale))
    return figures


def stats_map_figures(backend: str, lines: list[str]) -> list[Figure]:
    """benchmarks/stats_map.py's table lines (| backend | measure | p50 | p95 | ... | target |) as figures: each
    p95 against the limit its target names, a line without one as a peer's."""
    figures = []
    for line in lines:
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        measured = ", ".join(cell for cell in cells[2:4] if cell)
        p95, limit = re.search(r"p95 ([\d.]+) ms", line), re.search(r"< ([\d.]+) ms", cells[-1])
        if p95 is None or limit is None:
            figures.append(peer(backend, cells[1], measured, cells[-1]))
        else:
            figures.append(under(backend, cells[1], float(p95[1]), float(limit[1]), measured=measured))
    return figures


def police_commune(session) -> tuple[dict[str, str], LocalFrame, np.ndarray, np.ndarray]:
    """The Bearer header of a new commune police officer of the commune with the most lenses,
    and that commune's lens positions in metres (with the frame that maps them back to lon/lat)."""
    commune_id = session.scalar(
        select(Lens.commune_id)
        .where(Lens.commune_id.is_not(None))
        .group_by(Lens.commune_id)
        .order_by(func.count().desc(), Lens.commune_id)
        .limit(1)
    )
    commune = session.get(AdminUnit, commune_id)
    user = create_user(session, SYSTEM, "bench-police", "bench-password", Role.COMMUNE_POLICE, commune.code)
    _, secret = create_token(session, SYSTEM, user, "benchmark")
    session.commit()
    points = [
        to_shape(p) for p in session.scalars(select(Lens.point).where(Lens.commune_id == commune_id).order_by(Lens.id))
    ]
    frame = LocalFrame.around(to_shape(commune.boundary))
    return {"Authorization": f"Bearer {secret}"}, frame, *frame.to_metres([p.x for p in points], [p.y for p in points])


def geojson(frame: LocalFrame, kind: str, xs, ys) -> dict:
    lons, lats = frame.to_lon_lat(xs, ys)
    coordinates = [[round(lon, 7), round(lat, 7)] for lon, lat in zip(lons, lats)]
    return {"type": kind, "coordinates": coordinates[0] if kind == "Point" else coordinates}


def _off_lens(rng: random.Random, values) -> list[float]:
    """A few metres off: an incident is never exactly at a lens."""
    return [value + rng.uniform(-5, 5) for value in values]


def point_incident(rng: random.Random, xs: np.ndarray, ys: np.ndarray) -> tuple[list[float], list[float]]:
    """Next to a registered lens."""
    i = rng.randrange(len(xs))
    return _off_lens(rng, [xs[i]]), _off_lens(rng, [ys[i]])


def route_incident(rng: random.Random, xs: np.ndarray, ys: np.ndarray) -> tuple[list[float], list[float]]:
    """About ROUTE_M long: ROUTE_LEGS legs of ROUTE_M / ROUTE_LEGS from lens to lens, each to the lens that
    best keeps that leg length while leading away from the start (lenses cluster around sites, so routes bend)."""
    leg = ROUTE_M / ROUTE_LEGS
    path = [rng.randrange(len(xs))]
    for k in range(1, ROUTE_LEGS + 1):
        path.append(
            int(
                np.argmin(
                    4 * np.abs(np.hypot(xs - xs[path[-1]], ys - ys[path[-1]]) - leg)
                    + np.abs(np.hypot(xs - xs[path[0]], ys - ys[path[0]]) - k * leg)
                )
            )
        )
    return _off_lens(rng, xs[path]), _off_lens(rng, ys[path])


def bench_requests(backend: str, url: str, sessions, scale: Scale) -> list[Figure]:
    """POST footage requests through the API as a commune's police, incidents next to that commune's lenses."""
    with sessions() as session:
        headers, frame, xs, ys = police_commune(session)
    rng = random.Random(11)
    now = datetime.now(UTC)
    body = {
        "case_ref": "BENCH",
        "reason": "benchmark",
        "legal_basis": "Điều 145 Bộ luật Tố tụng hình sự",
        "window_start": (now - timedelta(hours=4)).isoformat(),
        "window_end": (now - timedelta(hours=2)).isoformat(),
    }
    figures = []
    with tempfile.TemporaryDirectory(prefix="cr-bench-instance-") as instance:
        app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": instance, "SECRET_KEY": "bench"})
        client = app.test_client()
        for label, kind, make, runs, radius_m, target_ms in (
            ("POST footage request, 200 m point", "Point", point_incident, scale.calls(POINT_REQUESTS), 200, 100),
            (
                f"POST footage request, {ROUTE_M / 1000:g} km route",
                "LineString",
                route_incident,
                scale.calls(ROUTE_REQUESTS),
                DEFAULT_RADIUS_M,
                300,
            ),
        ):
            incidents = iter([geojson(frame, kind, *make(rng, xs, ys)) for _ in range(WARMUP + runs)])
            answers = []

            def post():
                response = client.post(
                    "/api/v1/footage-requests",
                    headers=headers,
                    json={**body, "incident": next(incidents), "radius_m": radius_m},
                )
                if response.status_code != 201:
                    raise SystemExit(f"{backend} {label}: {response.status_code} {response.get_data(as_text=True)}")
                answers.append(response.get_json())

            timing = time_calls(post, runs, warmup=WARMUP)
            considered, routed = (
                np.mean([answer[key] for answer in answers[WARMUP:]]) for key in ("lenses_considered", "lenses_routed")
            )
            measure = f"{label} (avg {considered:.0f} lenses within, {routed:.0f} routed)"
            figures.append(timed_under(backend, measure, timing, target_ms))
        app.extensions["engine"].dispose()
    return figures


def _rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def register_file(directory: Path) -> Path:
    """The city as one register a clerk would import: one row per lens, owners and recorders repeated.

    A lens the generator jittered across its commune's edge is put at its
    recorder, which always lies inside, so every row is acceptable.
    """
    communes = {unit.code: prep(unit.boundary) for unit in dataset_units(directory).units if unit.boundary}
    sites = {row["code"]: row for row in _rows(directory / "sites.csv")}
    owners = {row["external_id"]: row for row in _rows(directory / "owners.csv")}
    recorders = {row["external_id"]: row for row in _rows(directory / "recorders.csv")}
    commitments = {}
    for row in _rows(directory / "commitments.csv"):
        if not row["revoked_at"]:
            commitments.setdefault(row["owner_external_id"], (row["signed_at"][:10], row["valid_until"][:10]))
    path = directory / "register.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS])
        for lens in _rows(directory / "lenses.csv"):
            recorder = recorders[lens["recorder_external_id"]]
            owner = owners[recorder["owner_external_id"]]
            commune = sites[recorder["site_code"]]["commune_code"]
            lon, lat = lens["lon"], lens["lat"]
            if not communes[commune].contains(Point(float(lon), float(lat))):
                lon, lat = recorder["lon"], recorder["lat"]
            signed_at, valid_until = commitments.get(owner["external_id"], ("", ""))
            writer.writerow(
                [
                    commune,
                    recorder["site_code"],
                    owner["external_id"],
                    owner["kind"],
                    owner["name"],
                    owner["phone"],
                    recorder["external_id"],
                    recorder["retention_days"],
                    lens["external_id"],
                    lon,
                    lat,
                    lens["bearing_deg"],
                    lens["fov_deg"],
                    lens["range_m"],
                    lens["status"],
                    signed_at,
                    valid_until,
                    owner["email"],
                    owner["address"],
                    sites[recorder["site_code"]]["name"],
                    recorder["make"],
                    recorder["model"],
                    recorder["lon"],
                    recorder["lat"],
                    lens["height_m"],
                    lens["kind"],
                ]
            )
    return path


def changed_register(register: Path) -> Path:
    """The same register with every lens's range 5 m longer: an import that updates every lens."""
    path = register.with_name("register-changed.csv")
    with (
        open(register, newline="", encoding="utf-8") as source,
        open(path, "w", newline="", encoding="utf-8") as target,
    ):
        reader = csv.DictReader(source)
        writer = csv.DictWriter(target, reader.fieldnames)
        writer.writeheader()
        for row in reader:
            writer.writerow({**row, "range_m": str(float(row["range_m"]) + 5)})
    return path


NUMERIC_COLUMNS = {
    "lon",
    "lat",
    "recorder_lon",
    "recorder_lat",
    "bearing_deg",
    "fov_deg",
    "range_m",
    "height_m",
    "retention_days",
}


def register_workbook(register: Path) -> Path:
    """The register as a clerk's XLSX: numbers in number cells, everything else as text."""
    import openpyxl

    path = register.with_suffix(".xlsx")
    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet()
    with open(register, newline="", encoding="utf-8") as source:
        reader = csv.reader(source)
        header = next(reader)
        sheet.append(header)
        numeric = [name in NUMERIC_COLUMNS for name in header]
        for row in reader:
            sheet.append([float(cell) if is_number and cell else cell or None for cell, is_number in zip(row, numeric)])
    workbook.save(path)
    return path


def communes_only(directory: Path) -> Path:
    """The city's admin units as a dataset of their own: what a registry holds before any register is imported."""
    target = directory.with_name(f"{directory.name}-communes")
    manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    with DatasetWriter(target) as writer:
        writer.edition(tuple(manifest["provinces"]), date.fromisoformat(manifest["effective"]), manifest["edition"])
    return target


def bench_import(backend: str, register: Path, workbook: Path, communes: Path, scale: Scale) -> list[Figure]:
    """Import the whole register into a registry holding only communes, then (not in a quick run) again
    unchanged, as CSV and as XLSX, and with every lens changed."""
    figures = []
    with fresh_database(backend) as engine:
        sessions = make_session_factory(engine)
        with sessions() as session:
            load_dataset(session, communes)
            session.commit()
        for label, path in (
            (f"import {scale.lenses:,}-row register (CSV)", register),
            ("re-import it unchanged", register),
            ("re-import it unchanged, as XLSX", workbook),
            ("import it with every lens changed", changed_register(register)),
        )[: 1 if scale.quick else None]:
            start = time.perf_counter()
            with sessions() as session:
                report = import_register(session, path, path.name, actor=SYSTEM)
                session.commit()
            seconds = time.perf_counter() - start
            if not report.ok:
                raise SystemExit(f"{path}: {report.error_count} errors, first: {report.errors[0]}")
            lenses = report.lenses
            counts = f"{lenses.created:,} created, {lenses.updated:,} updated, {lenses.unchanged:,} unchanged"
            measure = f"{label}: lenses {counts}"
            figures += show(seconds_under(backend, measure, seconds, TARGET_IMPORT_S))
    return figures


def show(*figures: Figure) -> list[Figure]:
    """Print figures as they are measured (a full run takes a while); hand them back."""
    for figure in figures:
        print(figure.line, flush=True)
    return list(figures)


def suite(backends: list[str], scale: Scale, national: bool, load_seconds: float) -> tuple[list[Figure], list[str]]:
    """Every benchmark on every reachable backend: the figures, and what was skipped with why."""
    from . import request_cost, routing  # they read this module's city and incidents: imported once it is loaded

    directory, generate_s = city_dataset(scale)
    register, communes = register_file(directory), communes_only(directory)
    workbook = register_workbook(register)
    print(f"generated the {scale.lenses:,}-lens city in {generate_s:.2f} s", flush=True)
    print("\n".join(FIGURE_HEADER), flush=True)
    figures: list[Figure] = []
    backends, skipped = reachable_backends(backends)
    for backend in backends:
        figures += bench_backend(backend, directory, scale)
        figures += bench_import(backend, register, workbook, communes, scale)
        rounds = 1 if scale.quick else 2
        figures += show(*bulk_load.bench_bulk(backend, directory, register, communes, rounds=rounds))
        figures += show(*routing.measure(backend, directory, scale))
    if national:
        ok, reason = postgres_available()
        if ok:
            figures += show(*bench_national(DATA_DIR))
        else:
            skipped.append(f"national set skipped: {reason}")
    figures += show(*request_cost.suite_figures(backends, scale))
    figures += show(*load.suite_figures(backends, load_seconds))
    return figures, skipped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="every benchmark reduced: under 3 minutes")
    parser.add_argument("--record", action="store_true", help="write the run's section of benchmarks/RESULTS.md")
    parser.add_argument("--backend", choices=("spatialite", "postgis"), action="append")
    parser.add_argument(
        "--national",
        action="store_true",
        help="also load the 3,000,000-lens national set on PostGIS (several minutes) and time viewports",
    )
    parser.add_argument(
        "--full-load",
        action="store_true",
        help=f"the loads under gunicorn for {load.FULL_SECONDS} s each (default {load.SECONDS} s)",
    )
    args = parser.parse_args()
    quiet_logs()
    scale = QUICK if args.quick else FULL
    load_seconds = load.FULL_SECONDS if args.full_load else scale.load_seconds
    before, start = load.load_average(), time.monotonic()
    figures, skipped = suite(args.backend or ["spatialite", "postgis"], scale, args.national, load_seconds)
    minutes, after = (time.monotonic() - start) / 60, load.load_average()
    failed = [figure for figure in figures if figure.passed is False]
    passed = sum(1 for figure in figures if figure.passed)
    summary = (
        f"{scale.name} run: {len(figures)} figures, {passed} PASS, {len(failed)} FAIL, in {minutes:.1f} min; "
        f"load average (1, 5, 15 min) before: {before}; after: {after}"
    )
    for line in [*skipped, "", *(f"FAIL: {figure.backend} {figure.measure}" for figure in failed), summary]:
        print(line, flush=True)
    if args.record:
        flags = {"--quick": args.quick, "--national": args.national, "--full-load": args.full_load}
        command = " ".join(["python -m benchmarks", *(flag for flag, on in flags.items() if on)])
        text = "\n".join(
            [
                f"{SECTION[:-1]}, {scale.name} run)" if scale.quick else SECTION,
                "",
                f"Measured {date.today().isoformat()} on {load.machine()} with `{command}` "
                f"({scale.lenses:,}-lens city) in {minutes:.1f} min. Load average (1, 5, 15 min) before: {before}; "
                f"after: {after}.",
                "",
                TARGETS,
                "",
                *FIGURE_HEADER,
                *(figure.line for figure in figures),
                *skipped,
                "",
                summary.split(";")[0] + ".",
            ]
        )
        load.record(text, title=text.splitlines()[0])
        print(f"recorded in {RESULTS}")


if __name__ == "__main__":
    main()
