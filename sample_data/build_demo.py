"""Rebuild sample_data/demo/ , the bundled sample that `make run` loads.

Grounded in shared/seeds: Hanoi wards named in the reports (Long Biên,
Bạch Mai, Đống Đa, which absorbed Trung Liệt in the July 2025 reform) plus
Hoàn Kiếm and Ba Đình, and Chí Đám commune (Phú Thọ) with its 66 lenses
along its roads. Names are real; boundaries and roads are plausible
sketches, not survey data; owners and phone numbers are invented.

    python sample_data/build_demo.py
"""

from __future__ import annotations

import math
import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from shapely.geometry import LineString, Polygon

from camera_registry.services.sample import DatasetWriter, invented_mobile

REFORM = date(2025, 7, 1)
OUT = Path(__file__).resolve().parent / "demo"

# code, name, centre (lon, lat), radius in metres, roads as (name, bearing of the road, length m), lens target
HANOI_WARDS = [
    (
        "00070",
        "Phường Hoàn Kiếm",
        (105.8522, 21.0287),
        850,
        [("Phố Hàng Bài", 0, 1300), ("Phố Tràng Tiền", 95, 1100)],
        64,
    ),
    (
        "00004",
        "Phường Ba Đình",
        (105.8345, 21.0368),
        850,
        [("Phố Đội Cấn", 80, 1300), ("Phố Hoàng Hoa Thám", 20, 1100)],
        58,
    ),
    (
        "00226",
        "Phường Đống Đa",
        (105.8262, 21.0132),
        850,
        [("Phố Tây Sơn", 150, 1400), ("Phố Thái Hà", 60, 1200), ("Phố Trung Liệt", 100, 700)],
        72,
    ),
    (
        "00283",
        "Phường Bạch Mai",
        (105.8505, 20.9995),
        850,
        [("Phố Bạch Mai", 0, 1400), ("Phố Minh Khai", 95, 1300)],
        60,
    ),
    (
        "00124",
        "Phường Long Biên",
        (105.8890, 21.0445),
        850,
        [("Phố Nguyễn Văn Cừ", 70, 1400), ("Phố Ngọc Lâm", 170, 1100)],
        62,
    ),
]
CHI_DAM = (
    "07915",
    "Xã Chí Đám",
    (105.1705, 21.5665),
    2600,
    [("Quốc lộ 2", 25, 4200), ("Đường tỉnh 323", 115, 2600), ("Đường liên thôn Đoan Hạ", 160, 1800)],
    66,
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


def boundary(rng: random.Random, centre, radius_m: float) -> Polygon:
    corners = []
    for k in range(10):
        angle = math.radians(k * 36 + rng.uniform(-6, 6))
        r = radius_m * rng.uniform(0.93, 1.0)
        corners.append(metres_offset(*centre, r * math.sin(angle), r * math.cos(angle)))
    return Polygon(corners)


def road(centre, bearing_deg: float, length_m: float) -> LineString:
    east, north = math.sin(math.radians(bearing_deg)), math.cos(math.radians(bearing_deg))
    half = length_m / 2
    return LineString(
        [metres_offset(*centre, -east * half, -north * half), metres_offset(*centre, east * half, north * half)]
    )


def write_commune(writer: DatasetWriter, rng: random.Random, spec, parent_code: str, counters: dict) -> None:
    code, name, centre, radius_m, roads, lens_target = spec
    writer.admin_unit(
        code,
        name,
        "commune",
        parent_code,
        boundary(rng, centre, radius_m),
        valid_from=REFORM,
        # A duty mobile: escalations reach the commune police by SMS.
        police_phone=invented_mobile(rng.randrange(10**7) if parent_code == "01" else rng.randrange(10**6)),
    )
    site_codes = []
    for number, (road_name, _, _) in enumerate(roads[:2], start=1):
        site_code = f"{code}-S{number}"
        site_lon, site_lat = metres_offset(*centre, rng.uniform(-150, 150), rng.uniform(-150, 150))
        writer.row("sites", site_code, f"Điểm mô hình Camera an ninh {road_name}", code, site_lon, site_lat)
        site_codes.append(site_code)
    lenses_placed = 0
    houses = []
    for road_name, bearing, length in roads:
        line = road(centre, bearing, length)
        spacing = 45 if radius_m < 1000 else 90
        for k in range(int(length // spacing)):
            side = 1 if k % 2 else -1
            houses.append(
                (road_name, bearing, line.interpolate((k + 0.5) / (length // spacing), normalized=True), side)
            )
    rng.shuffle(houses)
    agency_done = False
    for road_name, bearing, at, side in houses:
        if lenses_placed >= lens_target:
            break
        counters["owner"] += 1
        owner_id = f"DEMO-O{counters['owner']:04d}"
        if not agency_done:
            kind, owner_name, lens_count = "agency", rng.choice(AGENCIES).format(commune=name), 6
            agency_done = True
        elif rng.random() < 0.25:
            kind, owner_name, lens_count = (
                "business",
                rng.choice(BUSINESSES).format(n=counters["owner"]),
                rng.randint(2, 5),
            )
        else:
            kind, owner_name, lens_count = "household", rng.choice(HOUSEHOLD_NAMES), rng.randint(1, 3)
        lens_count = min(lens_count, lens_target - lenses_placed)
        house_number = rng.randint(1, 250)
        writer.row(
            "owners",
            owner_id,
            kind,
            owner_name,
            invented_mobile(rng.randrange(10**8)),
            f"lienhe{counters['owner']}@example.vn" if kind != "household" else None,
            f"Số {house_number} {road_name}, {name}",
        )
        # The house stands 10 m off the road centre line, on alternating sides.
        normal = math.radians(bearing + 90 * side)
        lon, lat = metres_offset(at.x, at.y, 10 * math.sin(normal), 10 * math.cos(normal))
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
    assert lenses_placed == lens_target, f"{name}: only {lenses_placed} of {lens_target} lenses fit its roads"


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
    rng = random.Random(2025)
    counters = {"owner": 0, "recorder": 0, "lens": 0}
    with DatasetWriter(OUT) as writer:
        writer.admin_unit("01", "Thành phố Hà Nội", "province")
        writer.admin_unit("25", "Tỉnh Phú Thọ", "province")
        # Before the July 2025 reform: district Đống Đa and its ward Trung Liệt, since merged.
        writer.admin_unit("006", "Quận Đống Đa", "district", "01", valid_to=REFORM)
        writer.admin_unit(
            "00217",
            "Phường Trung Liệt",
            "commune",
            "006",
            boundary(random.Random(217), (105.8215, 21.0110), 450),
            valid_to=REFORM,
        )
        for spec in HANOI_WARDS:
            write_commune(writer, rng, spec, "01", counters)
        write_commune(writer, rng, CHI_DAM, "25", counters)
    print(f"wrote {counters['owner']} owners, {counters['recorder']} recorders, {counters['lens']} lenses to {OUT}")


if __name__ == "__main__":
    main()
