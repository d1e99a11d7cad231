"""Run the benchmark suite on both backends and print (or record) its figures.

    python -m benchmarks            # print the figures
    python -m benchmarks --record   # also write benchmarks/RESULTS.md
    python -m benchmarks --national # also the 3,000,000-lens national set on PostGIS (several minutes)
    python -m benchmarks --full-load # the mixed load under gunicorn for 120 s per load instead of 45 s

The mixed load under gunicorn (benchmarks/load.py) runs last; it can also run alone: python -m benchmarks.load
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
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

from . import bulk_load, load
from .harness import fresh_database, postgres_available, reachable_backends, time_calls
from .stats_map import bench_stats_map
from .tiles import bench_national, bench_tiles

DATA_DIR = Path(__file__).resolve().parent / "data"
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
CITY = {"preset": "hanoi", "lenses": 55_000, "sites": 265, "seed": 1}
RADII = (50, 200, 1000)
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
same PostGIS table; with --national, a viewport's map data on the 3,000,000-lens set under 1 s (PostGIS)."""


def city_dataset() -> tuple[Path, float]:
    directory = DATA_DIR / "{preset}-{lenses}-{sites}-seed{seed}".format(**CITY)
    start = time.perf_counter()
    generate_city(directory, **CITY)
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


def bench_backend(backend: str, directory: Path) -> list[str]:
    lines = []
    with fresh_database(backend) as engine:
        sessions = make_session_factory(engine)
        start = time.perf_counter()
        with sessions() as session:
            report = load_dataset(session, directory)
            session.commit()
        load_s = time.perf_counter() - start
        lines.append(f"| {backend} | load {report.lenses:,} lenses | {load_s:.2f} s | | | target < 15 s |")
        points = query_points(directory, INDEXED_RUNS)
        with sessions() as session:
            for radius in RADII:
                indexed_points, scan_points = iter(points * 10), iter(points * 10)

                def indexed():
                    return lenses_near(session, next(indexed_points), radius)

                def scan():
                    return lenses_near(session, next(scan_points), radius, use_index=False)

                found = sum(len(lenses_near(session, p, radius)) for p in points[:50]) / 50
                fast = time_calls(indexed, INDEXED_RUNS)
                slow = time_calls(scan, SCAN_RUNS, warmup=1)
                speedup = slow.p50_ms / fast.p50_ms
                lines.append(
                    f"| {backend} | lenses_near {radius} m (avg {found:.0f} found) | p50 {fast.p50_ms:.2f} ms | "
                    f"p95 {fast.p95_ms:.2f} ms | no index: p50 {slow.p50_ms:.1f} ms, p95 {slow.p95_ms:.1f} ms | "
                    f"{speedup:.0f}x faster |"
                )
        lines += bench_requests(backend, engine.url.render_as_string(hide_password=False), sessions)
        lines += bench_tiles(backend, engine.url.render_as_string(hide_password=False), sessions)
        lines += bench_stats_map(backend, engine.url.render_as_string(hide_password=False), sessions)
    return lines


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


def bench_requests(backend: str, url: str, sessions) -> list[str]:
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
    lines = []
    with tempfile.TemporaryDirectory(prefix="cr-bench-instance-") as instance:
        app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": instance, "SECRET_KEY": "bench"})
        client = app.test_client()
        for label, kind, make, runs, radius_m, target_ms in (
            ("POST footage request, 200 m point", "Point", point_incident, POINT_REQUESTS, 200, 100),
            (
                f"POST footage request, {ROUTE_M / 1000:g} km route",
                "LineString",
                route_incident,
                ROUTE_REQUESTS,
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
            lines.append(
                f"| {backend} | {label} (avg {considered:.0f} lenses within, {routed:.0f} routed) | "
                f"p50 {timing.p50_ms:.1f} ms | p95 {timing.p95_ms:.1f} ms | | target p95 < {target_ms} ms |"
            )
        app.extensions["engine"].dispose()
    return lines


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


def bench_import(backend: str, register: Path, workbook: Path, communes: Path) -> list[str]:
    """Import the whole register into a registry holding only communes, again unchanged (as CSV and as XLSX),
    then with every lens changed."""
    lines = []
    with fresh_database(backend) as engine:
        sessions = make_session_factory(engine)
        with sessions() as session:
            load_dataset(session, communes)
            session.commit()
        for label, path in (
            ("import 55,000-row register (CSV)", register),
            ("re-import it unchanged", register),
            ("re-import it unchanged, as XLSX", workbook),
            ("import it with every lens changed", changed_register(register)),
        ):
            start = time.perf_counter()
            with sessions() as session:
                report = import_register(session, path, path.name, actor=SYSTEM)
                session.commit()
            seconds = time.perf_counter() - start
            if not report.ok:
                raise SystemExit(f"{path}: {report.error_count} errors, first: {report.errors[0]}")
            lenses = report.lenses
            lines.append(
                f"| {backend} | {label}: lenses {lenses.created:,} created, {lenses.updated:,} updated, "
                f"{lenses.unchanged:,} unchanged | {seconds:.2f} s | | | target < 20 s |"
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--record", action="store_true", help="write the figures to benchmarks/RESULTS.md")
    parser.add_argument("--backend", choices=("spatialite", "postgis"), action="append")
    parser.add_argument(
        "--national",
        action="store_true",
        help="also load the 3,000,000-lens national set on PostGIS (several minutes) and time viewports",
    )
    parser.add_argument(
        "--full-load",
        action="store_true",
        help=f"the mixed load under gunicorn for {load.FULL_SECONDS} s per load (default {load.SECONDS} s)",
    )
    args = parser.parse_args()
    backends = args.backend or ["spatialite", "postgis"]

    directory, generate_s = city_dataset()
    register, communes = register_file(directory), communes_only(directory)
    workbook = register_workbook(register)
    lines = [
        "| backend | measure | figure | p95 | without index | note |",
        "| --- | --- | --- | --- | --- | --- |",
        f"| (none) | generate {CITY['lenses']:,}-lens city | {generate_s:.2f} s | | | |",
    ]
    backends, skipped = reachable_backends(backends)
    for backend in backends:
        lines += bench_backend(backend, directory)
        lines += bench_import(backend, register, workbook, communes)
        lines += bulk_load.bench_bulk(backend, directory, register, communes)
    if args.national:
        ok, reason = postgres_available()
        if ok:
            lines += bench_national(DATA_DIR)
        else:
            skipped.append(f"national set skipped: {reason}")
    for line in lines + skipped:
        print(line, flush=True)
    if args.record:
        machine = (
            f"{platform.node()}: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}"
        )
        RESULTS.write_text(
            f"# Benchmark results\n\n{TARGETS}\n\nMeasured {date.today().isoformat()} on {machine} "
            f"with `make bench`.\n\n" + "\n".join(lines + skipped) + "\n"
        )
        print(f"recorded in {RESULTS}")
    load.main(
        [
            *(f"--backend={backend}" for backend in backends),
            *(["--full"] if args.full_load else []),
            *(["--record"] if args.record else []),
        ]
    )


if __name__ == "__main__":
    main()
