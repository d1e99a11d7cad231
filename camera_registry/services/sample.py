"""The registry dataset format shared by the bundled sample and the city-scale generator.

A dataset is a directory of plain files, written and read as streams so a
3,000,000-lens national set never has to fit in memory:

    dataset.json         the administrative units, by reference to an edition (services.editions):
                         {"edition": "bundled" or a path relative to the directory (an edition directory
                         or a plain GeoJSON file), "provinces": ["01", ...] (optional: all of them),
                         "effective": "2025-07-01" (the day its units are valid from),
                         "police_phones": {commune code: the commune police's duty phone}}
    admin_units.geojson  without dataset.json: the units inline, as a plain GeoJSON edition (code, name,
                         level, parent_code, police_phone), valid from 2025-07-01
    sites.csv            code, name, commune_code, lon, lat
    owners.csv           external_id, kind, name, phone, email, address
    recorders.csv        external_id, owner_external_id, site_code, lon, lat, retention_days, make, model, status
    lenses.csv           external_id, recorder_external_id, lon, lat, bearing_deg, fov_deg, range_m, height_m, kind,
                         status
    commitments.csv      owner_external_id, all_recorders, recorder_external_ids (';'-separated),
                         signed_at, valid_until, channel, text_version, revoked_at

The units are loaded by the editions loader (services.editions.load_edition),
so a dataset's communes are exactly an edition's, with their full boundaries.
Phones are written as people write them and loaded normalised (84XXXXXXXXX),
by the rule of every other entry path; a dataset with a number that is not
a Vietnamese mobile one is refused.

Parents precede children in every file. An owner is registered in the
commune of their first recorder's site, by the importer's rule
(imports.writer.owner_commune).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from itertools import islice
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, load_only

from ..geo.communes import CommuneLocator
from ..models import AdminLevel, AdminUnit
from .access import SYSTEM
from .channels.phones import MOBILE_PREFIXES, PhoneError, normalise_phone
from .editions import load_edition
from .editions.reader import BUNDLED_EDITION, Edition, EditionError, read_edition
from .imports.writer import BATCH, COVERED_RECORDERS, BulkWriter, owner_commune
from .registry import forget_commune_locator

FILES = {
    "sites": ("code", "name", "commune_code", "lon", "lat"),
    "owners": ("external_id", "kind", "name", "phone", "email", "address"),
    "recorders": (
        "external_id",
        "owner_external_id",
        "site_code",
        "lon",
        "lat",
        "retention_days",
        "make",
        "model",
        "status",
    ),
    "lenses": (
        "external_id",
        "recorder_external_id",
        "lon",
        "lat",
        "bearing_deg",
        "fov_deg",
        "range_m",
        "height_m",
        "kind",
        "status",
    ),
    "commitments": (
        "owner_external_id",
        "all_recorders",
        "recorder_external_ids",
        "signed_at",
        "valid_until",
        "channel",
        "text_version",
        "revoked_at",
    ),
}
BUNDLED_SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "demo"
MANIFEST = "dataset.json"
INLINE_UNITS = "admin_units.geojson"
BUNDLED = "bundled"  # the manifest's name for the edition shipped with the package
#: The day units of a dataset are valid from unless its manifest says otherwise: the 2025 reform.
REFORM_DAY = date(2025, 7, 1)


class DatasetError(ValueError):
    """A dataset file is missing or holds a row that cannot be loaded."""


def invented_mobile(draw: int) -> str:
    """A made-up mobile number on a network's prefix, from one random draw: the generators keep drawing what they
    always drew, so every other value of a rebuilt dataset stays the same."""
    prefixes = sorted(MOBILE_PREFIXES)
    return f"0{prefixes[draw % len(prefixes)]}{draw // len(prefixes) % 10**7:07d}"


class DatasetWriter:
    """Writes a dataset directory row by row; use as a context manager."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._features: list[dict] = []
        self._manifest: dict | None = None
        self._files = {}
        self._writers = {}

    def __enter__(self) -> DatasetWriter:
        for name, columns in FILES.items():
            handle = open(self.directory / f"{name}.csv", "w", newline="", encoding="utf-8")
            self._files[name] = handle
            self._writers[name] = csv.writer(handle)
            self._writers[name].writerow(columns)
        return self

    def edition(self, provinces: tuple[str, ...], effective: date, edition: str = BUNDLED) -> None:
        """Take the units from an edition (the bundled one by default), only the named provinces."""
        self._manifest = {
            "edition": edition,
            "provinces": list(provinces),
            "effective": effective.isoformat(),
            "police_phones": {},
        }

    def police_phone(self, commune_code: str, phone: str) -> None:
        self._manifest["police_phones"][commune_code] = phone

    def admin_unit(self, code, name, level, parent_code=None, boundary=None, police_phone=None) -> None:
        """A unit written inline, for datasets whose units are in no edition."""
        self._features.append(
            {
                "type": "Feature",
                "properties": {
                    "code": code,
                    "name": name,
                    "level": level,
                    "parent_code": parent_code,
                    **({"police_phone": police_phone} if police_phone else {}),
                },
                "geometry": boundary.__geo_interface__ if boundary is not None else None,
            }
        )

    def row(self, file: str, *values) -> None:
        self._writers[file].writerow(["" if value is None else _text(value) for value in values])

    def __exit__(self, *exc_info) -> None:
        for handle in self._files.values():
            handle.close()
        if self._manifest is not None:
            with open(self.directory / MANIFEST, "w", encoding="utf-8") as handle:
                json.dump(self._manifest, handle, ensure_ascii=False, indent=1)
                handle.write("\n")
        if self._features:
            with open(self.directory / INLINE_UNITS, "w", encoding="utf-8") as handle:
                json.dump({"type": "FeatureCollection", "features": self._features}, handle, ensure_ascii=False)


def _text(value) -> str:
    if isinstance(value, float):
        return f"{value:.7f}".rstrip("0").rstrip(".")
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return str(value)


@dataclass
class LoadReport:
    admin_units: int = 0
    sites: int = 0
    owners: int = 0
    recorders: int = 0
    lenses: int = 0
    commitments: int = 0


def registry_is_empty(session: Session) -> bool:
    return session.scalar(select(func.count()).select_from(AdminUnit)) == 0


def load_dataset(
    session: Session, directory: Path = BUNDLED_SAMPLE, progress: Callable[[str, int], None] | None = None
) -> LoadReport:
    """Load a dataset directory into an empty registry, in the caller's transaction.

    Rows go through the register import's bulk writer, so they land in the
    tables as an imported register's would.
    """
    directory = Path(directory)
    units = _admin_units(directory)
    if not registry_is_empty(session):
        raise DatasetError("the registry already holds admin units; sample data loads only into an empty database")
    report = LoadReport()
    notify = progress or (lambda stage, count: None)

    commune_ids = _load_admin_units(session, units, report)
    notify("admin_units", report.admin_units)
    # The edition's boundaries are the stored ones: locate against them rather than read 10 MB back.
    locator = CommuneLocator(
        sorted((commune_ids[unit.code], unit.boundary) for unit in units.edition.units if unit.code in commune_ids)
    )
    writer = BulkWriter(session.connection())
    sites: dict[str, dict] = {}

    def site(row):
        if row["commune_code"] not in commune_ids:
            raise DatasetError(f"sites.csv: site {row['code']}: unknown commune_code {row['commune_code']}")
        sites[row["code"]] = {
            "key": row["code"],
            "name": row["name"],
            "commune_id": commune_ids[row["commune_code"]],
            "point": (float(row["lon"]), float(row["lat"])) if row["lon"] else None,
        }
        return sites[row["code"]]

    _load(writer, directory, "sites", site, report)
    communes = _owner_communes(directory, sites)

    def owner(row):
        return {
            "key": row["external_id"],
            "kind": row["kind"],
            "name": row["name"],
            "phone": _phone("owners.csv", row["external_id"], row["phone"]),
            "email": row["email"] or None,
            "address": row["address"] or None,
            "commune_id": communes.get(row["external_id"]),
        }

    _load(writer, directory, "owners", owner, report)
    notify("owners", report.owners)
    _load(writer, directory, "recorders", _recorder, report, locator)
    notify("recorders", report.recorders)
    _load(writer, directory, "lenses", _lens, report, locator, lambda count: notify("lenses", count))
    _load(writer, directory, "commitments", _commitment, report)
    notify("commitments", report.commitments)
    forget_commune_locator(session)
    return report


@dataclass(frozen=True)
class _Units:
    """Where a dataset's units come from: an edition, the day they are valid from, and duty phones to set
    on them (an inline edition carries its own)."""

    edition: Edition
    effective: date
    police_phones: dict[str, str]


def _admin_units(directory: Path) -> _Units:
    manifest_path = directory / MANIFEST
    if manifest_path.exists():
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            named = manifest.get("edition", BUNDLED)
            effective = date.fromisoformat(manifest.get("effective", REFORM_DAY.isoformat()))
            provinces = tuple(manifest["provinces"]) if manifest.get("provinces") is not None else None
            police_phones = dict(manifest.get("police_phones") or {})
        except (ValueError, TypeError, AttributeError) as error:
            raise DatasetError(f"{manifest_path}: not a dataset manifest ({error})") from None
        source = BUNDLED_EDITION if named == BUNDLED else directory / named
    elif (directory / INLINE_UNITS).exists():
        source, provinces, effective, police_phones = directory / INLINE_UNITS, None, REFORM_DAY, {}
    else:
        raise DatasetError(f"{directory}: no {MANIFEST} or {INLINE_UNITS}; is this a dataset directory?")
    try:
        edition = read_units(source.resolve(), provinces)
    except EditionError as error:
        raise DatasetError(f"{manifest_path.name if manifest_path.exists() else INLINE_UNITS}: {error}") from None
    return _Units(edition, effective, police_phones)


def dataset_units(directory: Path) -> Edition:
    """The units a dataset names (its edition, or its inline units), read as `load_dataset` reads them."""
    return _admin_units(Path(directory)).edition


@lru_cache(maxsize=4)
def read_units(source: Path, provinces: tuple[str, ...] | None) -> Edition:
    """The edition at `source` (only `provinces`), read once per process: parsing a province's real
    boundaries takes a second, and tests load the sample many times."""
    return read_edition(source, provinces)


def _load_admin_units(session: Session, units: _Units, report: LoadReport) -> dict[str, int]:
    """Load the edition's units, set their duty phones, and return the current communes' ids by code."""
    try:
        load_edition(session, units.edition, units.effective, actor=SYSTEM)
    except EditionError as error:
        raise DatasetError(f"{units.edition.source.name}: {error}") from None
    report.admin_units = len(units.edition.units)
    phones = {code: _phone(MANIFEST, code, phone) for code, phone in units.police_phones.items()}
    current = {
        unit.code: unit
        for unit in session.scalars(
            select(AdminUnit)
            .options(load_only(AdminUnit.id, AdminUnit.code, AdminUnit.level))
            .where(AdminUnit.valid_to.is_(None))
        )
    }
    for code, phone in phones.items():
        if code not in current:
            raise DatasetError(f"{MANIFEST}: police_phones: {code} is not a unit of the edition")
        current[code].police_phone = phone
    session.flush()
    return {code: unit.id for code, unit in current.items() if unit.level == AdminLevel.COMMUNE}


def _owner_communes(directory: Path, sites: dict[str, dict]) -> dict[str, int | None]:
    """Each owner's commune, from the site of their first recorder that names one.

    recorders.csv is read ahead: owners.csv names no commune and is loaded first.
    """
    communes: dict[str, int | None] = {}
    for batch in _batches(directory, "recorders"):
        for row in batch:
            site = sites.get(row["site_code"])
            if site is not None and row["owner_external_id"] not in communes:
                communes[row["owner_external_id"]] = owner_commune(site)
    return communes


def _recorder(row: dict[str, str]) -> dict:
    return {
        "key": row["external_id"],
        "owner_external_id": row["owner_external_id"],
        "site_code": row["site_code"] or None,
        "point": (float(row["lon"]), float(row["lat"])),
        "retention_days": int(row["retention_days"]),
        "make": row["make"] or None,
        "model": row["model"] or None,
        "status": row["status"],
    }


def _lens(row: dict[str, str]) -> dict:
    return {
        "key": row["external_id"],
        "recorder_external_id": row["recorder_external_id"],
        "point": (float(row["lon"]), float(row["lat"])),
        "bearing_deg": float(row["bearing_deg"]) if row["bearing_deg"] else None,
        "fov_deg": float(row["fov_deg"]),
        "range_m": float(row["range_m"]),
        "height_m": float(row["height_m"]) if row["height_m"] else None,
        "kind": row["kind"],
        "status": row["status"],
    }


def _commitment(row: dict[str, str]) -> dict:
    return {
        "owner_external_id": row["owner_external_id"],
        "all_recorders": row["all_recorders"] == "1",
        COVERED_RECORDERS: [external_id for external_id in row["recorder_external_ids"].split(";") if external_id],
        "signed_at": _moment(row["signed_at"]),
        "valid_until": _moment(row["valid_until"]),
        "channel": row["channel"],
        "text_version": row["text_version"],
        "revoked_at": _moment(row["revoked_at"]),
    }


def _load(writer, directory, file, to_record, report, locator=None, progress=None) -> None:
    """Write one file's rows as records, streamed to the writer in one call, so it writes the whole file on
    its bulk path (on SQLite, the spatial index built once after it) and never holds more than a batch.

    With `locator`, each record (a recorder or lens) gets the commune its point
    lies in, located for the whole batch at once.
    """

    def records() -> Iterator[dict]:
        for batch in _batches(directory, file):
            placed = [to_record(row) for row in batch]
            if locator is not None:
                points = [record["point"] for record in placed]
                communes = locator.locate_many([point[0] for point in points], [point[1] for point in points])
                for record, commune_id in zip(placed, communes):
                    record["commune_id"] = commune_id
            yield from placed
            setattr(report, file, getattr(report, file) + len(batch))
            if progress:
                progress(getattr(report, file))

    try:
        writer.insert(file, records())
    except KeyError as missing:
        raise DatasetError(f"{file}.csv: reference to unknown external id {missing}") from None


def _batches(directory: Path, file: str) -> Iterator[list[dict]]:
    path = directory / f"{file}.csv"
    if not path.exists():
        raise DatasetError(f"{path}: missing")
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if tuple(reader.fieldnames or ()) != FILES[file]:
            raise DatasetError(f"{path}: columns must be {', '.join(FILES[file])}")
        while batch := list(islice(reader, BATCH)):
            yield batch


def _phone(file: str, key: str, written: str | None) -> str | None:
    if not written:
        return None
    try:
        return normalise_phone(written)
    except PhoneError as error:
        raise DatasetError(f"{file}: {key}: phone {written!r}: {error}") from None


def _moment(text: str) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


__all__ = [
    "BUNDLED_SAMPLE",
    "DatasetError",
    "DatasetWriter",
    "LoadReport",
    "dataset_units",
    "invented_mobile",
    "load_dataset",
    "read_units",
    "registry_is_empty",
]
