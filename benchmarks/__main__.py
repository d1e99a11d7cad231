"""Run the benchmark suite on both backends and print (or record) its figures.

    python -m benchmarks            # print the figures
    python -m benchmarks --record   # also write benchmarks/RESULTS.md
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import time
from datetime import date
from pathlib import Path

from shapely.geometry import Point, shape
from shapely.prepared import prep

from camera_registry.db import make_session_factory
from camera_registry.geo.spatial import lenses_near
from camera_registry.services.access import SYSTEM
from camera_registry.services.imports import OPTIONAL_COLUMNS, REQUIRED_COLUMNS, import_register
from camera_registry.services.sample import DatasetWriter, load_dataset
from camera_registry.services.sample_generator import generate_city

from .harness import fresh_database, postgres_available, time_calls

DATA_DIR = Path(__file__).resolve().parent / "data"
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
CITY = {"lenses": 55_000, "communes": 126, "sites": 265, "seed": 1}
RADII = (50, 200, 1000)
INDEXED_RUNS, SCAN_RUNS = 300, 20

TARGETS = """Targets (issue 2): load the 55,000-lens city in under 15 s; lenses_near(200 m)
p95 under 5 ms and at least 20x faster than the same query without the index, on both backends.
Bulk import: a 55,000-row register file in under 20 s on either backend."""


def city_dataset() -> tuple[Path, float]:
    directory = DATA_DIR / "city-{lenses}-{communes}-{sites}-seed{seed}".format(**CITY)
    start = time.perf_counter()
    generate_city(directory, **CITY)
    return directory, time.perf_counter() - start


def query_points(directory: Path, count: int, seed: int = 7) -> list[Point]:
    """Incident-like points: next to registered lenses, where police actually ask."""
    import csv

    with open(directory / "lenses.csv", newline="", encoding="utf-8") as handle:
        rows = [(float(r["lon"]), float(r["lat"])) for r in csv.DictReader(handle)]
    rng = random.Random(seed)
    return [Point(lon + rng.uniform(-0.0005, 0.0005), lat + rng.uniform(-0.0005, 0.0005))
            for lon, lat in rng.sample(rows, count)]


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
                def indexed(it=iter(points * 10)):
                    return lenses_near(session, next(it), radius)

                def scan(it=iter(points * 10)):
                    return lenses_near(session, next(it), radius, use_index=False)

                found = sum(len(lenses_near(session, p, radius)) for p in points[:50]) / 50
                fast = time_calls(indexed, INDEXED_RUNS)
                slow = time_calls(scan, SCAN_RUNS, warmup=1)
                speedup = slow.p50_ms / fast.p50_ms
                lines.append(
                    f"| {backend} | lenses_near {radius} m (avg {found:.0f} found) | p50 {fast.p50_ms:.2f} ms | "
                    f"p95 {fast.p95_ms:.2f} ms | no index: p50 {slow.p50_ms:.1f} ms, p95 {slow.p95_ms:.1f} ms | "
                    f"{speedup:.0f}x faster |"
                )
    return lines


def _rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def register_file(directory: Path) -> Path:
    """The city as one register a clerk would import: one row per lens, owners and recorders repeated.

    A lens the generator jittered across its commune's edge is put at its
    recorder, which always lies inside, so every row is acceptable.
    """
    with open(directory / "admin_units.geojson", encoding="utf-8") as handle:
        communes = {f["properties"]["code"]: prep(shape(f["geometry"])) for f in json.load(handle)["features"] if f["geometry"]}
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
            writer.writerow([
                commune, recorder["site_code"], owner["external_id"], owner["kind"], owner["name"], owner["phone"],
                recorder["external_id"], recorder["retention_days"], lens["external_id"], lon, lat, lens["bearing_deg"],
                lens["fov_deg"], lens["range_m"], lens["status"], signed_at, valid_until,
                owner["email"], owner["address"], sites[recorder["site_code"]]["name"], recorder["make"], recorder["model"],
                recorder["lon"], recorder["lat"], lens["height_m"], lens["kind"],
            ])
    return path


def changed_register(register: Path) -> Path:
    """The same register with every lens's range 5 m longer: an import that updates every lens."""
    path = register.with_name("register-changed.csv")
    with open(register, newline="", encoding="utf-8") as source, open(path, "w", newline="", encoding="utf-8") as target:
        reader = csv.DictReader(source)
        writer = csv.DictWriter(target, reader.fieldnames)
        writer.writeheader()
        for row in reader:
            writer.writerow({**row, "range_m": str(float(row["range_m"]) + 5)})
    return path


NUMERIC_COLUMNS = {"lon", "lat", "recorder_lon", "recorder_lat", "bearing_deg", "fov_deg", "range_m", "height_m",
                   "retention_days"}


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
    with open(directory / "admin_units.geojson", encoding="utf-8") as handle:
        features = json.load(handle)["features"]
    with DatasetWriter(target) as writer:
        for feature in features:
            props = feature["properties"]
            writer.admin_unit(props["code"], props["name"], props["level"], props["parent_code"],
                              shape(feature["geometry"]) if feature["geometry"] else None,
                              date.fromisoformat(props["valid_from"]) if props["valid_from"] else None,
                              date.fromisoformat(props["valid_to"]) if props["valid_to"] else None)
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
        for label, path in (("import 55,000-row register (CSV)", register), ("re-import it unchanged", register),
                            ("re-import it unchanged, as XLSX", workbook),
                            ("import it with every lens changed", changed_register(register))):
            start = time.perf_counter()
            with sessions() as session:
                report = import_register(session, path, path.name, actor=SYSTEM)
                session.commit()
            seconds = time.perf_counter() - start
            if not report.ok:
                raise SystemExit(f"{path}: {report.error_count} errors, first: {report.errors[0]}")
            lenses = report.lenses
            lines.append(f"| {backend} | {label}: lenses {lenses.created:,} created, {lenses.updated:,} updated, "
                         f"{lenses.unchanged:,} unchanged | {seconds:.2f} s | | | target < 20 s |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--record", action="store_true", help="write the figures to benchmarks/RESULTS.md")
    parser.add_argument("--backend", choices=("spatialite", "postgis"), action="append")
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
    skipped = []
    for backend in backends:
        if backend == "postgis":
            ok, reason = postgres_available()
            if not ok:
                skipped.append(f"postgis skipped: {reason}")
                continue
        lines += bench_backend(backend, directory)
        lines += bench_import(backend, register, workbook, communes)
    for line in lines + skipped:
        print(line, flush=True)
    if args.record:
        machine = f"{platform.node()}: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
        RESULTS.write_text(
            f"# Benchmark results\n\n{TARGETS}\n\nMeasured {date.today().isoformat()} on {machine} "
            f"with `make bench`.\n\n" + "\n".join(lines + skipped) + "\n"
        )
        print(f"recorded in {RESULTS}")


if __name__ == "__main__":
    main()
