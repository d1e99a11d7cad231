"""Reading an edition of the administrative units: the unit list with codes, names, levels and parents, and
the boundaries where the edition has them.

Two layouts are read:

- the statistics-office layout the bundled edition comes in (camera_registry/geodata/vn-2026-07-25/): a
  `vn_units_*.json` list of provinces, each with its `Wards`, beside `<NN>_*_province.geojson` and
  `<NN>_*_wards.geojson` files holding boundaries by `code` (each file may be gzipped);
- a plain GeoJSON FeatureCollection, one feature per unit, with properties `code`, `name`, `level`
  (province, district or commune; the Vietnamese kinds Tỉnh, Thành phố, Phường, Xã and Đặc khu are
  understood too), `parent_code` (or `parent`), and optionally `police_phone`.

Boundaries are kept exactly as published: they decide which commune a lens is in, so they are never simplified
here (drawing simplifies its own copy).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from shapely.geometry import MultiPolygon, Polygon, shape
from shapely.geometry.base import BaseGeometry

from ...models import AdminLevel
from ..vietnamese import fold

#: The edition shipped with the package (MIT licence beside it).
BUNDLED_EDITION = Path(__file__).resolve().parents[2] / "geodata" / "vn-2026-07-25"

_LEVELS = {
    "province": AdminLevel.PROVINCE,
    "district": AdminLevel.DISTRICT,
    "commune": AdminLevel.COMMUNE,
    "ward": AdminLevel.COMMUNE,
    "tinh": AdminLevel.PROVINCE,
    "thanh pho": AdminLevel.PROVINCE,
    "quan": AdminLevel.DISTRICT,
    "huyen": AdminLevel.DISTRICT,
    "thi xa": AdminLevel.DISTRICT,
    "phuong": AdminLevel.COMMUNE,
    "xa": AdminLevel.COMMUNE,
    "dac khu": AdminLevel.COMMUNE,
    "thi tran": AdminLevel.COMMUNE,
}


class EditionError(ValueError):
    """The files do not hold a readable edition; the message names the file and what is wrong."""


@dataclass(frozen=True)
class UnitRecord:
    code: str
    name: str
    level: AdminLevel
    parent_code: str | None
    boundary: MultiPolygon | None = None
    name_en: str | None = None
    police_phone: str | None = None


@dataclass(frozen=True)
class Edition:
    """The units of one edition, parents before children."""

    source: Path
    units: tuple[UnitRecord, ...]

    def codes(self) -> set[str]:
        return {unit.code for unit in self.units}


def read_edition(path: Path | str, provinces: Iterable[str] | None = None) -> Edition:
    """The edition at `path` (a directory in the statistics-office layout, or a GeoJSON file), optionally
    only the named provinces (by code) and their communes."""
    path = Path(path)
    wanted = set(provinces) if provinces is not None else None
    if path.is_dir():
        units = _read_office_layout(path, wanted)
    elif path.is_file():
        units = _read_geojson(path, wanted)
    else:
        raise EditionError(f"{path}: no such file or directory")
    return Edition(source=path, units=tuple(_parents_first(units, path)))


def _open(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def _json(path: Path):
    try:
        with _open(path) as handle:
            return json.load(handle)
    except (OSError, ValueError) as exc:
        raise EditionError(f"{path.name}: not readable JSON ({exc})") from exc


def _one(directory: Path, pattern: str) -> list[Path]:
    return sorted(p for p in directory.glob(pattern) if p.name.endswith((".json", ".geojson", ".gz")))


def _read_office_layout(directory: Path, wanted: set[str] | None) -> list[UnitRecord]:
    lists = _one(directory, "vn_units_*.json*")
    if len(lists) != 1:
        raise EditionError(f"{directory}: expected one vn_units_*.json unit list, found {len(lists)}")
    boundaries: dict[str, MultiPolygon] = {}
    for boundary_file in _one(directory, "*_province.geojson*") + _one(directory, "*_wards.geojson*"):
        if wanted is not None and boundary_file.name.split("_", 1)[0] not in wanted:
            continue  # the files are named by province code: skip reading boundaries nobody asked for
        for feature in _features(boundary_file):
            code = _text(feature.get("properties", {}).get("code"))
            if code and feature.get("geometry"):
                boundaries[code] = _multipolygon(feature["geometry"], boundary_file, code)
    units: list[UnitRecord] = []
    for province in _json(lists[0]):
        code = _required(province, "Code", lists[0])
        if wanted is not None and code not in wanted:
            continue
        units.append(_office_unit(province, None, AdminLevel.PROVINCE, boundaries, lists[0]))
        for ward in province.get("Wards") or ():
            units.append(_office_unit(ward, code, AdminLevel.COMMUNE, boundaries, lists[0]))
    if wanted is not None and (missing := wanted - {u.code for u in units if u.level == AdminLevel.PROVINCE}):
        raise EditionError(f"{lists[0].name}: no province with code {', '.join(sorted(missing))}")
    return units


def _office_unit(row: dict, parent_code, level, boundaries, source: Path) -> UnitRecord:
    code = _required(row, "Code", source)
    return UnitRecord(
        code=code,
        name=_required(row, "FullName", source),
        level=level,
        parent_code=parent_code,
        boundary=boundaries.get(code),
        name_en=_text(row.get("FullNameEn")),
    )


def _features(path: Path) -> list[dict]:
    document = _json(path)
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        raise EditionError(f"{path.name}: not a GeoJSON FeatureCollection")
    return document.get("features") or []


def _read_geojson(path: Path, wanted: set[str] | None) -> list[UnitRecord]:
    units = []
    for number, feature in enumerate(_features(path), start=1):
        properties = feature.get("properties") or {}
        where = f"{path.name}: feature {number}"
        code = _text(properties.get("code"))
        if not code:
            raise EditionError(f"{where}: no code")
        level = _level(properties.get("level"), where)
        parent_code = _text(properties.get("parent_code", properties.get("parent")))
        if level != AdminLevel.PROVINCE and not parent_code:
            raise EditionError(f"{where} ({code}): a {level.value} needs a parent_code")
        geometry = feature.get("geometry")
        units.append(
            UnitRecord(
                code=code,
                name=_text(properties.get("name")) or _fail(f"{where} ({code}): no name"),
                level=level,
                parent_code=parent_code,
                boundary=_multipolygon(geometry, path, code) if geometry else None,
                name_en=_text(properties.get("name_en")),
                police_phone=_text(properties.get("police_phone")),
            )
        )
    if wanted is not None:
        kept = {u.code for u in units if u.level == AdminLevel.PROVINCE and u.code in wanted}
        changed = True
        while changed:
            before = len(kept)
            kept |= {u.code for u in units if u.parent_code in kept}
            changed = len(kept) != before
        units = [u for u in units if u.code in kept]
    return units


def _parents_first(units: list[UnitRecord], source: Path) -> list[UnitRecord]:
    """Order units so each parent precedes its children; refuse duplicates and dangling parents."""
    by_code: dict[str, UnitRecord] = {}
    for unit in units:
        if unit.code in by_code:
            raise EditionError(f"{source.name}: code {unit.code} appears twice")
        by_code[unit.code] = unit
    ordered: list[UnitRecord] = []
    placed: set[str] = set()

    def place(unit: UnitRecord, trail: tuple[str, ...]) -> None:
        if unit.code in placed:
            return
        if unit.code in trail:
            raise EditionError(f"{source.name}: units {' -> '.join(trail)} are their own parent")
        if unit.parent_code is not None:
            parent = by_code.get(unit.parent_code)
            if parent is None:
                raise EditionError(f"{source.name}: unit {unit.code} names parent {unit.parent_code}, not in it")
            place(parent, (*trail, unit.code))
        placed.add(unit.code)
        ordered.append(unit)

    for unit in units:
        place(unit, ())
    return ordered


def _multipolygon(geometry: dict, source: Path, code: str) -> MultiPolygon:
    try:
        shaped: BaseGeometry = shape(geometry)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise EditionError(f"{source.name}: unit {code}: unreadable geometry ({exc})") from exc
    if isinstance(shaped, Polygon):
        shaped = MultiPolygon([shaped])
    if not isinstance(shaped, MultiPolygon) or shaped.is_empty:
        raise EditionError(f"{source.name}: unit {code}: the boundary must be a Polygon or MultiPolygon")
    if not shaped.is_valid:
        raise EditionError(f"{source.name}: unit {code}: the boundary is not a valid polygon (self-intersecting?)")
    return shaped


def _level(value, where: str) -> AdminLevel:
    folded = fold(_text(value) or "")
    if folded not in _LEVELS:
        raise EditionError(f"{where}: level {value!r} is not province, district or commune")
    return _LEVELS[folded]


def _required(row: dict, key: str, source: Path) -> str:
    value = _text(row.get(key))
    if not value:
        raise EditionError(f"{source.name}: a unit has no {key}: {json.dumps(row, ensure_ascii=False)[:120]}")
    return value


def _text(value) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _fail(message: str):
    raise EditionError(message)
