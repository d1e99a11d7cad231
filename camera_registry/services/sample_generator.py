"""A deterministic city-scale dataset of the bundled sample's shape, for benchmarks.

Communes are cells of a jittered grid centred on Hanoi (shared corners, so
no gaps or overlaps); sites, owners, recorders and lenses are drawn from one
seeded generator and streamed to disk, so 3,000,000 lenses need only the
commune grid and the sites in memory.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from shapely.geometry import Point, Polygon

from .sample import DatasetWriter, invented_mobile

CITY_CENTRE = (105.8342, 21.0278)  # Hoàn Kiếm, Hanoi
CELL_DEG = 0.04  # about 4 km: a suburban commune after the 2025 merger
RECORDER_MAKES = (("Hikvision", "DS-7208HGHI"), ("Dahua", "XVR5108"), ("KBVision", "KX-8108D"), ("Ezviz", "X5S"))
REFERENCE_TIME = datetime(2026, 1, 1, tzinfo=UTC)
SHARING_OWNER_SHARE = 0.9


@dataclass(frozen=True)
class GeneratedCounts:
    communes: int
    sites: int
    owners: int
    recorders: int
    lenses: int


def generate_city(out_dir: Path, lenses: int, communes: int, sites: int, seed: int) -> GeneratedCounts:
    if lenses < 1 or communes < 1 or sites < 1:
        raise ValueError("lenses, communes and sites must each be at least 1")
    rng = random.Random(seed)
    cells = _commune_cells(rng, communes)
    with DatasetWriter(Path(out_dir)) as writer:
        writer.admin_unit("G01", "Thành phố mẫu", "province")
        for index, cell in enumerate(cells):
            writer.admin_unit(_commune_code(index), f"Phường mẫu {index + 1}", "commune", "G01", cell)
        site_points = []
        for index in range(sites):
            commune = index % communes
            lon, lat = _point_in(rng, cells[commune], margin=0.2)
            writer.row(
                "sites", f"GS{index + 1:05d}", f"Điểm Camera an ninh số {index + 1}", _commune_code(commune), lon, lat
            )
            site_points.append((f"GS{index + 1:05d}", lon, lat, cells[commune]))
        counts = _write_cameras(writer, rng, site_points, lenses)
    return GeneratedCounts(communes, sites, *counts)


def _commune_code(index: int) -> str:
    return f"G{index + 1:05d}"


def _commune_cells(rng: random.Random, communes: int) -> list[Polygon]:
    """`communes` quadrilaterals from a grid whose shared vertices are jittered."""
    columns = math.ceil(math.sqrt(communes))
    rows = math.ceil(communes / columns)
    origin_lon = CITY_CENTRE[0] - columns * CELL_DEG / 2
    origin_lat = CITY_CENTRE[1] - rows * CELL_DEG / 2
    jitter = CELL_DEG * 0.25
    vertices = [
        [
            (
                origin_lon + i * CELL_DEG + (rng.uniform(-jitter, jitter) if 0 < i < columns else 0),
                origin_lat + j * CELL_DEG + (rng.uniform(-jitter, jitter) if 0 < j < rows else 0),
            )
            for j in range(rows + 1)
        ]
        for i in range(columns + 1)
    ]
    cells = []
    for index in range(communes):
        i, j = index % columns, index // columns
        cells.append(Polygon([vertices[i][j], vertices[i + 1][j], vertices[i + 1][j + 1], vertices[i][j + 1]]))
    return cells


def _point_in(rng: random.Random, cell: Polygon, margin: float = 0.0) -> tuple[float, float]:
    """A uniform point inside `cell`, kept `margin` (as a share of the cell) off its edges."""
    shrunk = cell.buffer(-margin * math.sqrt(cell.area) / 2) if margin else cell
    min_lon, min_lat, max_lon, max_lat = shrunk.bounds
    while True:
        lon, lat = rng.uniform(min_lon, max_lon), rng.uniform(min_lat, max_lat)
        if shrunk.contains(Point(lon, lat)):
            return round(lon, 7), round(lat, 7)


def _offset(lon: float, lat: float, distance_m: float, bearing_deg: float) -> tuple[float, float]:
    """Move a lon/lat point by a few hundred metres at most (local flat-earth step)."""
    dlat = distance_m * math.cos(math.radians(bearing_deg)) / 110_574.0
    dlon = distance_m * math.sin(math.radians(bearing_deg)) / (111_320.0 * math.cos(math.radians(lat)))
    return round(lon + dlon, 7), round(lat + dlat, 7)


def _write_cameras(writer: DatasetWriter, rng: random.Random, site_points, lenses_wanted: int) -> tuple[int, int, int]:
    owners = recorders = lenses = 0
    while lenses < lenses_wanted:
        owners += 1
        owner_id = f"GO{owners:07d}"
        kind = rng.choices(("household", "business", "agency"), weights=(70, 22, 8))[0]
        writer.row(
            "owners",
            owner_id,
            kind,
            _owner_name(kind, owners),
            invented_mobile(rng.randrange(10**8)),
            f"chu{owners}@example.vn" if kind != "household" else None,
            f"Số {rng.randint(1, 300)}, ngõ {rng.randint(1, 200)}",
        )
        site_code, site_lon, site_lat, cell = site_points[rng.randrange(len(site_points))]
        owned = []
        for _ in range(1 if kind == "household" else rng.randint(1, 3)):
            if lenses >= lenses_wanted:
                break
            recorders += 1
            recorder_id = f"GR{recorders:07d}"
            lon, lat = _offset(site_lon, site_lat, rng.uniform(0, 600), rng.uniform(0, 360))
            if not cell.contains(Point(lon, lat)):
                lon, lat = _point_in(rng, cell)
            make, model = RECORDER_MAKES[rng.randrange(len(RECORDER_MAKES))]
            status = "active" if rng.random() < 0.97 else "offline"
            writer.row(
                "recorders",
                recorder_id,
                owner_id,
                site_code,
                lon,
                lat,
                rng.choice((7, 10, 14, 15, 20, 30)),
                make,
                model,
                status,
            )
            owned.append(recorder_id)
            for _ in range(min(rng.randint(1, 16 if kind != "household" else 6), lenses_wanted - lenses)):
                lenses += 1
                lens_lon, lens_lat = _offset(lon, lat, rng.uniform(0, 25), rng.uniform(0, 360))
                dome = rng.random() < 0.12
                writer.row(
                    "lenses",
                    f"GL{lenses:08d}",
                    recorder_id,
                    lens_lon,
                    lens_lat,
                    None if dome else round(rng.uniform(0, 359.9), 1),
                    360.0 if dome else rng.choice((60.0, 90.0, 110.0)),
                    rng.choice((20.0, 30.0, 40.0, 60.0)),
                    round(rng.uniform(2.5, 6.0), 1),
                    "dome" if dome else rng.choice(("fixed", "fixed", "ptz")),
                    "active" if rng.random() < 0.95 else "offline",
                )
        _write_commitment(writer, rng, owner_id, owned)
    return owners, recorders, lenses


def _owner_name(kind: str, number: int) -> str:
    return {
        "household": f"Hộ gia đình số {number}",
        "business": f"Cửa hàng số {number}",
        "agency": f"Cơ quan số {number}",
    }[kind]


def _write_commitment(writer: DatasetWriter, rng: random.Random, owner_id: str, recorders: list[str]) -> None:
    """About 90% of owners hold an active commitment; a few more have an expired or revoked one."""
    signed_at = REFERENCE_TIME - timedelta(days=rng.randint(30, 700))
    draw = rng.random()
    if draw < SHARING_OWNER_SHARE:
        listed = len(recorders) > 1 and rng.random() < 0.1
        writer.row(
            "commitments",
            owner_id,
            not listed,
            ";".join(recorders[:1]) if listed else None,
            signed_at,
            signed_at + timedelta(days=rng.randint(3 * 365, 5 * 365)),
            rng.choice(("paper", "paper", "web")),
            "2024.1",
            None,
        )
    elif draw < SHARING_OWNER_SHARE + 0.03:
        writer.row(
            "commitments",
            owner_id,
            True,
            None,
            signed_at,
            signed_at + timedelta(days=365),
            "paper",
            "2023.1",
            signed_at + timedelta(days=rng.randint(1, 300)),
        )
