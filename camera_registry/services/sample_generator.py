"""A deterministic city-scale dataset of the bundled sample's shape, for benchmarks, on real communes.

The communes are a preset's provinces in the bundled edition, with their real boundaries (dataset.json names
them; nothing is copied). Sites are spread over every commune, more of them where the programme is denser:
in wards (Phường) rather than rural communes (Xã), and near the city centre. Owners, recorders and lenses
are drawn from one seeded generator around the sites, each point kept inside its commune's full boundary
(prepared geometries), and streamed to disk, so 3,000,000 lenses need only the communes and the sites in
memory.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import shapely

from ..geo.mapview import area_km2
from ..models import AdminLevel
from .editions.reader import BUNDLED_EDITION, UnitRecord
from .sample import DatasetWriter, invented_mobile, read_units

RECORDER_MAKES = (("Hikvision", "DS-7208HGHI"), ("Dahua", "XVR5108"), ("KBVision", "KX-8108D"), ("Ezviz", "X5S"))
REFERENCE_TIME = datetime(2026, 1, 1, tzinfo=UTC)
EFFECTIVE = date(2025, 7, 1)
SHARING_OWNER_SHARE = 0.9
WARD_DENSITY = 3.0  # a ward (Phường) holds this many times the cameras per km² of a rural commune at the same distance
DENSITY_HALF_KM = 4.0  # density halves this far from the centre, and keeps falling with the square of the distance

#: City centres the density falls away from: Hoàn Kiếm, Việt Trì, Bến Thành.
CENTRES = {"01": (105.8522, 21.0287), "25": (105.4019, 21.3227), "79": (106.6980, 10.7720)}


@dataclass(frozen=True)
class Preset:
    """A city: its provinces, how many lenses or recorders, its sites, and who owns its cameras."""

    provinces: tuple[str, ...]
    lenses: int | None
    recorders: int | None
    sites: int
    owner_kinds: tuple[int, int, int]  # weights of households, businesses and agencies
    household_lenses: int  # at most, on a household's recorder
    other_lenses: int  # at most, on a business's or agency's recorder


PRESETS = {
    # Hà Nội's programme: 265 model sites and over 55,000 lenses.
    "hanoi": Preset(("01",), 55_000, None, 265, (70, 22, 8), 6, 16),
    # Hồ Chí Minh City's: 4,258 recorders with over 30,000 lenses, more of them businesses'.
    "hcmc": Preset(("79",), None, 4_258, 600, (50, 38, 12), 8, 18),
    # Every province whose real boundaries are bundled (Hà Nội, Phú Thọ, Hồ Chí Minh City): the national benchmark.
    "bundled": Preset(("01", "25", "79"), 3_000_000, None, 8_000, (70, 22, 8), 6, 16),
}


@dataclass(frozen=True)
class GeneratedCounts:
    communes: int
    sites: int
    owners: int
    recorders: int
    lenses: int


@dataclass(frozen=True)
class _Site:
    code: str
    lon: float
    lat: float
    commune: UnitRecord


def generate_city(
    out_dir: Path,
    preset: str = "hanoi",
    lenses: int | None = None,
    recorders: int | None = None,
    sites: int | None = None,
    seed: int = 1,
) -> GeneratedCounts:
    """Write the preset's city to `out_dir`; `lenses` or `recorders` (not both) replace its size."""
    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {', '.join(PRESETS)}")
    if lenses is not None and recorders is not None:
        raise ValueError("give the number of lenses or of recorders, not both")
    city = PRESETS[preset]
    if lenses is None and recorders is None:
        lenses, recorders = city.lenses, city.recorders
    sites = city.sites if sites is None else sites
    if (lenses is not None and lenses < 1) or (recorders is not None and recorders < 1) or sites < 1:
        raise ValueError("lenses, recorders and sites must each be at least 1")
    rng = random.Random(seed)
    communes = [unit for unit in read_units(BUNDLED_EDITION, city.provinces).units if unit.level == AdminLevel.COMMUNE]
    shapely.prepare([unit.boundary for unit in communes])
    with DatasetWriter(Path(out_dir)) as writer:
        writer.edition(city.provinces, effective=EFFECTIVE)
        site_points = []
        for index, commune in enumerate(_site_communes(communes, sites)):
            code = f"GS{index + 1:05d}"
            lon, lat = _point_in(rng, commune)
            writer.row("sites", code, f"Điểm Camera an ninh số {index + 1}", commune.code, lon, lat)
            site_points.append(_Site(code, lon, lat, commune))
        counts = _write_cameras(writer, rng, city, site_points, lenses, recorders)
    return GeneratedCounts(len(communes), sites, *counts)


def density(commune: UnitRecord) -> float:
    """Cameras per km², relative: higher in wards than in rural communes, falling away from the city centre."""
    centre_lon, centre_lat = CENTRES[commune.parent_code]
    middle = commune.boundary.representative_point()
    east_km = (middle.x - centre_lon) * 111.32 * math.cos(math.radians(centre_lat))
    north_km = (middle.y - centre_lat) * 110.574
    kind = WARD_DENSITY if commune.name.startswith("Phường") else 1.0
    return kind / (1 + (math.hypot(east_km, north_km) / DENSITY_HALF_KM) ** 2)


def _site_communes(communes: list[UnitRecord], sites: int) -> list[UnitRecord]:
    """The commune of each site: one in every commune (as far as they go), the rest shared out by each commune's
    weight (its area times its density) by largest remainder, so the split is exact and stable."""
    weights = [area_km2(unit.boundary) * density(unit) for unit in communes]
    counts = [0] * len(communes)
    for k in sorted(range(len(communes)), key=lambda k: -weights[k])[:sites]:
        counts[k] = 1
    left = sites - sum(counts)
    total = sum(weights)
    exact = [left * weight / total for weight in weights]
    for k in range(len(communes)):
        counts[k] += int(exact[k])
    for k in sorted(range(len(communes)), key=lambda k: -(exact[k] - int(exact[k])))[: sites - sum(counts)]:
        counts[k] += 1
    return [communes[k] for k in range(len(communes)) for _ in range(counts[k])]


def _point_in(rng: random.Random, commune: UnitRecord) -> tuple[float, float]:
    """A uniform point inside the commune's full boundary."""
    min_lon, min_lat, max_lon, max_lat = commune.boundary.bounds
    while True:
        lon, lat = round(rng.uniform(min_lon, max_lon), 7), round(rng.uniform(min_lat, max_lat), 7)
        if shapely.contains_xy(commune.boundary, lon, lat):
            return lon, lat


def _offset(lon: float, lat: float, distance_m: float, bearing_deg: float) -> tuple[float, float]:
    """Move a lon/lat point by a few hundred metres at most (local flat-earth step)."""
    dlat = distance_m * math.cos(math.radians(bearing_deg)) / 110_574.0
    dlon = distance_m * math.sin(math.radians(bearing_deg)) / (111_320.0 * math.cos(math.radians(lat)))
    return round(lon + dlon, 7), round(lat + dlat, 7)


def _write_cameras(
    writer: DatasetWriter,
    rng: random.Random,
    city: Preset,
    site_points: list[_Site],
    lenses_wanted: int | None,
    recorders_wanted: int | None,
) -> tuple[int, int, int]:
    owners = recorders = lenses = 0

    def enough() -> bool:
        return lenses >= lenses_wanted if lenses_wanted is not None else recorders >= recorders_wanted

    while not enough():
        owners += 1
        owner_id = f"GO{owners:07d}"
        kind = rng.choices(("household", "business", "agency"), weights=city.owner_kinds)[0]
        writer.row(
            "owners",
            owner_id,
            kind,
            _owner_name(kind, owners),
            invented_mobile(rng.randrange(10**8)),
            f"chu{owners}@example.vn" if kind != "household" else None,
            f"Số {rng.randint(1, 300)}, ngõ {rng.randint(1, 200)}",
        )
        site = site_points[rng.randrange(len(site_points))]
        boundary = site.commune.boundary
        owned = []
        for _ in range(1 if kind == "household" else rng.randint(1, 3)):
            if enough():
                break
            recorders += 1
            recorder_id = f"GR{recorders:07d}"
            lon, lat = _offset(site.lon, site.lat, rng.uniform(0, 600), rng.uniform(0, 360))
            if not shapely.contains_xy(boundary, lon, lat):
                lon, lat = _point_in(rng, site.commune)
            make, model = RECORDER_MAKES[rng.randrange(len(RECORDER_MAKES))]
            status = "active" if rng.random() < 0.97 else "offline"
            writer.row(
                "recorders",
                recorder_id,
                owner_id,
                site.code,
                lon,
                lat,
                rng.choice((7, 10, 14, 15, 20, 30)),
                make,
                model,
                status,
            )
            owned.append(recorder_id)
            most = city.other_lenses if kind != "household" else city.household_lenses
            count = rng.randint(1, most)
            if lenses_wanted is not None:
                count = min(count, lenses_wanted - lenses)
            spots = [_offset(lon, lat, rng.uniform(0, 25), rng.uniform(0, 360)) for _ in range(count)]
            inside = shapely.contains_xy(boundary, [spot[0] for spot in spots], [spot[1] for spot in spots])
            for (lens_lon, lens_lat), kept in zip(spots, inside.tolist()):
                lenses += 1
                if not kept:
                    lens_lon, lens_lat = lon, lat  # a lens across the border would belong to the neighbour
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
