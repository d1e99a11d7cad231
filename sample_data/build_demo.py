"""Rebuild sample_data/demo/ , the bundled sample that `make run` loads.

The units are the bundled edition's (camera_registry/geodata/vn-2026-07-25, MIT): all of Hà Nội (01), Phú Thọ (25)
and Hồ Chí Minh City (79), named in dataset.json, not copied here. Lenses stand in a handful of real wards
(the ones the reports name: Đống Đa with Phố Tây Sơn, Thái Hà and Trung Liệt, Bạch Mai, Long Biên, with
Hoàn Kiếm, Ba Đình and their neighbours), in Xã Chí Đám (Phú Thọ) with its 66 lenses along its main road,
and in a few central wards of Hồ Chí Minh City. Streets are plausible lines through each ward's real
boundary, not surveyed street geometry (none is available offline); owners and phone numbers are invented.
Every lens is checked to lie inside its commune's full boundary.

    python sample_data/build_demo.py
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from shapely import prepared
from shapely.geometry import LineString, MultiLineString, Point
from shapely.geometry.base import BaseGeometry

from camera_registry.services.editions.reader import BUNDLED_EDITION, read_edition
from camera_registry.services.sample import DatasetWriter, invented_mobile

REFORM = date(2025, 7, 1)
PROVINCES = ("01", "25", "79")
OUT = Path(__file__).resolve().parent / "demo"
ROAD_MARGIN_M = 40  # streets end this far inside the boundary, so houses beside them stay in the commune
HOUSE_OFFSET_M = 10  # a house stands this far off the street's centre line


@dataclass(frozen=True)
class Street:
    name: str
    bearing_deg: float | None  # None: along the commune's longest axis (a rural commune's main road)
    shift_m: float = 0.0  # how far the street passes beside the commune's centre, to its right


@dataclass(frozen=True)
class Commune:
    code: str
    streets: tuple[Street, ...]
    lenses: int
    spacing_m: float = 40.0  # between neighbouring houses with cameras


COMMUNES = (
    Commune("00070", (Street("Phố Hàng Bài", 0), Street("Phố Tràng Tiền", 95, 250)), 64),
    Commune("00004", (Street("Phố Đội Cấn", 80), Street("Phố Phan Đình Phùng", 100, 400)), 58),
    Commune(
        "00235",
        (Street("Phố Tây Sơn", 150), Street("Phố Thái Hà", 60, 300), Street("Phố Trung Liệt", 100, -400)),
        72,
    ),
    Commune("00292", (Street("Phố Bạch Mai", 0), Street("Phố Lê Thanh Nghị", 95, -200)), 60),
    Commune("00145", (Street("Đường Nguyễn Văn Linh", 70), Street("Phố Thạch Bàn", 170, 600)), 62),
    Commune("00226", (Street("Phố Tôn Đức Thắng", 160), Street("Phố Quốc Tử Giám", 95, 200)), 40),
    Commune("00166", (Street("Đường Cầu Giấy", 120), Street("Phố Trần Duy Hưng", 30, 500)), 36),
    Commune("09556", (Street("Đường Quang Trung", 45), Street("Phố Tô Hiệu", 135, 300)), 30),
    Commune("00376", (Street("Quốc lộ 3", None),), 20, spacing_m=120),
    Commune("07999", (Street("Quốc lộ 2", None),), 66, spacing_m=60),
    Commune("26740", (Street("Đường Nguyễn Huệ", 155), Street("Đường Lê Lợi", 65, 200)), 48),
    Commune("26743", (Street("Đường Lê Thánh Tôn", 60), Street("Đường Nguyễn Thị Minh Khai", 150, 300)), 40),
    Commune("26737", (Street("Đường Hai Bà Trưng", 140), Street("Đường Trần Quang Khải", 50, 200)), 36),
    Commune("26824", (Street("Đường Võ Văn Ngân", 120), Street("Đường Kha Vạn Cân", 30, 400)), 34),
)

HOUSEHOLD_NAMES = [
    "Nguyễn Văn An",
    "Trần Thị Bình",
    "Lê Văn Cường",
    "Phạm Thị Dung",
    "Hoàng Văn Em",
    "Vũ Thị Giang",
    "Đặng Văn Hải",
    "Bùi Thị Hoa",
    "Đỗ Văn Khánh",
    "Ngô Thị Lan",
    "Dương Văn Minh",
    "Lý Thị Nga",
    "Phan Văn Phúc",
    "Trịnh Thị Quyên",
    "Đinh Văn Sơn",
    "Mai Thị Thu",
    "Tạ Văn Toàn",
    "Cao Thị Uyên",
]
BUSINESSES = [
    "Cửa hàng tạp hóa {n}",
    "Nhà thuốc {n}",
    "Quán cà phê {n}",
    "Cửa hàng điện máy {n}",
    "Nhà nghỉ {n}",
    "Tiệm vàng {n}",
]
AGENCIES = ["UBND {commune}", "Trường Tiểu học {commune}", "Trạm Y tế {commune}"]
MAKES = [("Hikvision", "DS-7208HGHI-K1"), ("Dahua", "XVR5108HS"), ("KBVision", "KX-A8124N2"), ("Ezviz", "X5S")]


def metres_offset(lon: float, lat: float, east_m: float, north_m: float) -> tuple[float, float]:
    return (round(lon + east_m / (111_320 * math.cos(math.radians(lat))), 7), round(lat + north_m / 110_574, 7))


def metres_between(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
    """East and north metres from a to b (a flat step: streets are a few kilometres at most)."""
    return ((b[0] - a[0]) * 111_320 * math.cos(math.radians(a[1])), (b[1] - a[1]) * 110_574)


def longest_axis_bearing(boundary: BaseGeometry) -> float:
    """The bearing of the long side of the commune's minimum rotated rectangle: where its main road runs."""
    corners = list(boundary.minimum_rotated_rectangle.exterior.coords)
    sides = [metres_between(corners[k], corners[k + 1]) for k in range(2)]
    east, north = max(sides, key=lambda side: math.hypot(*side))
    return math.degrees(math.atan2(east, north)) % 180


def street_line(boundary: BaseGeometry, street: Street) -> LineString:
    """A straight street through the commune's centre (shifted sideways), cut to the part inside the boundary
    less a margin; where the boundary cuts it in pieces, the longest piece."""
    centre = boundary.centroid
    if not boundary.contains(centre):  # a crescent-shaped commune: any point well inside it
        centre = boundary.representative_point()
    bearing = longest_axis_bearing(boundary) if street.bearing_deg is None else street.bearing_deg
    east, north = math.sin(math.radians(bearing)), math.cos(math.radians(bearing))
    through = metres_offset(centre.x, centre.y, north * street.shift_m, -east * street.shift_m)
    half = 40_000
    line = LineString(
        [
            metres_offset(*through, -east * half, -north * half),
            metres_offset(*through, east * half, north * half),
        ]
    )
    inner = boundary.buffer(-ROAD_MARGIN_M / 111_000)
    inside = line.intersection(inner)
    pieces = list(inside.geoms) if isinstance(inside, MultiLineString) else [inside]
    return max((piece for piece in pieces if not piece.is_empty), key=lambda piece: piece.length)


def houses_along(line: LineString, spacing_m: float) -> list[tuple[tuple[float, float], float, int]]:
    """(point, street bearing there, side) every `spacing_m` along `line`, alternately left and right."""
    start, end = line.coords[0], line.coords[-1]
    east, north = metres_between(start, end)
    length_m = math.hypot(east, north)
    bearing = math.degrees(math.atan2(east, north)) % 360
    houses = []
    for k in range(int(length_m // spacing_m)):
        at = line.interpolate((k + 0.5) * spacing_m / length_m, normalized=True)
        side = 1 if k % 2 else -1
        normal = math.radians(bearing + 90 * side)
        point = metres_offset(at.x, at.y, HOUSE_OFFSET_M * math.sin(normal), HOUSE_OFFSET_M * math.cos(normal))
        houses.append((point, bearing, side))
    return houses


def write_commune(writer: DatasetWriter, rng: random.Random, spec: Commune, unit, counters: dict) -> None:
    boundary = prepared.prep(unit.boundary)
    streets = [(street, street_line(unit.boundary, street)) for street in spec.streets]
    writer.police_phone(unit.code, invented_mobile(rng.randrange(10**7)))  # escalations reach them by SMS
    site_codes = []
    for number, (street, line) in enumerate(streets[:2], start=1):
        site_code = f"{unit.code}-S{number}"
        middle = line.interpolate(0.5, normalized=True)
        writer.row("sites", site_code, f"Điểm mô hình Camera an ninh {street.name}", unit.code, middle.x, middle.y)
        site_codes.append(site_code)
    houses = [(street.name, *house) for street, line in streets for house in houses_along(line, spec.spacing_m)]
    rng.shuffle(houses)
    lenses_placed = 0
    agency_done = False
    for street_name, (lon, lat), bearing, side in houses:
        if lenses_placed >= spec.lenses:
            break
        counters["owner"] += 1
        owner_id = f"DEMO-O{counters['owner']:04d}"
        if not agency_done:
            kind, owner_name, lens_count = "agency", rng.choice(AGENCIES).format(commune=unit.name), 6
            agency_done = True
        elif rng.random() < 0.25:
            kind, owner_name = "business", rng.choice(BUSINESSES).format(n=counters["owner"])
            lens_count = rng.randint(2, 5)
        else:
            kind, owner_name, lens_count = "household", rng.choice(HOUSEHOLD_NAMES), rng.randint(1, 3)
        lens_count = min(lens_count, spec.lenses - lenses_placed)
        writer.row(
            "owners",
            owner_id,
            kind,
            owner_name,
            invented_mobile(rng.randrange(10**8)),
            f"lienhe{counters['owner']}@example.vn" if kind != "household" else None,
            f"Số {rng.randint(1, 250)} {street_name}, {unit.name}",
        )
        counters["recorder"] += 1
        recorder_id = f"DEMO-R{counters['recorder']:04d}"
        make, model = rng.choice(MAKES)
        writer.row(
            "recorders",
            recorder_id,
            owner_id,
            rng.choice(site_codes),
            lon,
            lat,
            rng.choice((7, 10, 14, 15, 20, 30)),
            make,
            model,
            "active",
        )
        for n in range(lens_count):
            counters["lens"] += 1
            lens_lon, lens_lat = metres_offset(lon, lat, rng.uniform(-2, 2), rng.uniform(-2, 2))
            assert boundary.contains(Point(lens_lon, lens_lat)), f"{unit.name}: a lens fell outside its boundary"
            # Cameras look up or down the street, or straight across it; a few domes see all round.
            dome = kind != "household" and n == lens_count - 1 and lens_count > 2
            look = rng.choice((bearing, bearing + 180, bearing + 90 * -side)) % 360
            writer.row(
                "lenses",
                f"DEMO-L{counters['lens']:05d}",
                recorder_id,
                lens_lon,
                lens_lat,
                None if dome else round(look, 1),
                360.0 if dome else rng.choice((80.0, 90.0, 105.0)),
                25.0 if dome else rng.choice((30.0, 40.0, 50.0)),
                round(rng.uniform(2.8, 4.5), 1),
                "dome" if dome else "fixed",
                "active" if rng.random() < 0.95 else "offline",
            )
        lenses_placed += lens_count
        write_commitment(writer, rng, owner_id, recorder_id)
    assert lenses_placed == spec.lenses, f"{unit.name}: only {lenses_placed} of {spec.lenses} lenses fit its streets"


def write_commitment(writer: DatasetWriter, rng: random.Random, owner_id: str, recorder_id: str) -> None:
    signed_at = datetime(2024, 3, 1, 9, tzinfo=UTC) + timedelta(days=rng.randint(0, 540))
    draw = rng.random()
    if draw < 0.08:
        return  # never signed: these owners are asked for consent case by case
    if draw < 0.10:
        # Signed, then revoked: kept in the history, no longer counts.
        writer.row(
            "commitments",
            owner_id,
            True,
            None,
            signed_at,
            signed_at + timedelta(days=3 * 365),
            "paper",
            "2024.1",
            signed_at + timedelta(days=rng.randint(30, 200)),
        )
        return
    writer.row(
        "commitments",
        owner_id,
        draw > 0.15,
        None if draw > 0.15 else recorder_id,
        signed_at,
        signed_at + timedelta(days=3 * 365),
        rng.choice(("paper", "paper", "web")),
        "2024.1",
        None,
    )


def main() -> None:
    units = {unit.code: unit for unit in read_edition(BUNDLED_EDITION, PROVINCES).units}
    rng = random.Random(2025)
    counters = {"owner": 0, "recorder": 0, "lens": 0}
    with DatasetWriter(OUT) as writer:
        writer.edition(PROVINCES, effective=REFORM)
        for spec in COMMUNES:
            write_commune(writer, rng, spec, units[spec.code], counters)
    print(f"wrote {counters['owner']} owners, {counters['recorder']} recorders, {counters['lens']} lenses to {OUT}")


if __name__ == "__main__":
    main()
