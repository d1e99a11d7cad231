"""The registry dataset format shared by the bundled sample and the city-scale generator.

A dataset is a directory of plain files, written and read as streams so a
3,000,000-lens national set never has to fit in memory:

    admin_units.geojson  FeatureCollection: code, name, level, parent_code, valid_from, valid_to,
                         police_phone (optional: the commune police's duty phone)
    sites.csv            code, name, commune_code, lon, lat
    owners.csv           external_id, kind, name, phone, email, address
    recorders.csv        external_id, owner_external_id, site_code, lon, lat, retention_days, make, model, status
    lenses.csv           external_id, recorder_external_id, lon, lat, bearing_deg, fov_deg, range_m, height_m, kind,
                         status
    commitments.csv      owner_external_id, all_recorders, recorder_external_ids (';'-separated),
                         signed_at, valid_until, channel, text_version, revoked_at

Parents precede children in every file.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from itertools import islice
from pathlib import Path

from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPolygon, shape
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from ..models import (
    WGS84,
    AdminLevel,
    AdminUnit,
    Lens,
    Owner,
    Recorder,
    SharingCommitment,
    Site,
    commitment_recorders,
)
from .registry import commune_locator, forget_commune_locator

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
BATCH = 5_000
BUNDLED_SAMPLE = Path(__file__).resolve().parents[2] / "sample_data" / "demo"


class DatasetError(ValueError):
    """A dataset file is missing or holds a row that cannot be loaded."""


class DatasetWriter:
    """Writes a dataset directory row by row; use as a context manager."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._features: list[dict] = []
        self._files = {}
        self._writers = {}

    def __enter__(self) -> DatasetWriter:
        for name, columns in FILES.items():
            handle = open(self.directory / f"{name}.csv", "w", newline="", encoding="utf-8")
            self._files[name] = handle
            self._writers[name] = csv.writer(handle)
            self._writers[name].writerow(columns)
        return self

    def admin_unit(
        self, code, name, level, parent_code=None, boundary=None, valid_from=None, valid_to=None, police_phone=None
    ) -> None:
        self._features.append(
            {
                "type": "Feature",
                "properties": {
                    "code": code,
                    "name": name,
                    "level": level,
                    "parent_code": parent_code,
                    "valid_from": valid_from.isoformat() if valid_from else None,
                    "valid_to": valid_to.isoformat() if valid_to else None,
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
        with open(self.directory / "admin_units.geojson", "w", encoding="utf-8") as handle:
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
    """Load a dataset directory into an empty registry, in the caller's transaction."""
    directory = Path(directory)
    if not (directory / "admin_units.geojson").exists():
        raise DatasetError(f"{directory}: no admin_units.geojson; is this a dataset directory?")
    if not registry_is_empty(session):
        raise DatasetError("the registry already holds admin units; sample data loads only into an empty database")
    report = LoadReport()
    notify = progress or (lambda stage, count: None)

    commune_ids = _load_admin_units(session, directory / "admin_units.geojson", report)
    notify("admin_units", report.admin_units)
    locator = commune_locator(session)

    site_ids = {}
    for batch in _batches(directory, "sites"):
        for row in batch:
            if row["commune_code"] not in commune_ids:
                raise DatasetError(f"sites.csv: site {row['code']}: unknown commune_code {row['commune_code']}")
        session.connection().execute(
            insert(Site.__table__),
            [
                {
                    "code": row["code"],
                    "name": row["name"],
                    "commune_id": commune_ids[row["commune_code"]],
                    "point": point_ewkt(row["lon"], row["lat"]) if row["lon"] else None,
                }
                for row in batch
            ],
        )
        report.sites += len(batch)
    site_ids.update(session.execute(select(Site.code, Site.id)).all())

    owner_ids = _insert_keyed(
        session,
        directory,
        "owners",
        Owner,
        report,
        lambda row: {
            "external_id": row["external_id"],
            "kind": row["kind"],
            "name": row["name"],
            "phone": row["phone"] or None,
            "email": row["email"] or None,
            "address": row["address"] or None,
        },
    )
    notify("owners", report.owners)

    def recorder_values(row, commune_id):
        return {
            "external_id": row["external_id"],
            "owner_id": owner_ids[row["owner_external_id"]],
            "site_id": site_ids[row["site_code"]] if row["site_code"] else None,
            "commune_id": commune_id,
            "point": point_ewkt(row["lon"], row["lat"]),
            "retention_days": int(row["retention_days"]),
            "make": row["make"] or None,
            "model": row["model"] or None,
            "status": row["status"],
        }

    recorder_ids = _insert_placed(session, directory, "recorders", Recorder, locator, report, recorder_values)
    # An owner is registered in the commune of their (first) recorder. One grouped pass: a correlated
    # subquery per owner, planned without statistics on the rows just loaded, scanned the recorders
    # once per owner on PostGIS (hours for the 3,000,000-lens national set).
    first_commune = (
        select(Recorder.owner_id, func.min(Recorder.commune_id).label("commune_id"))
        .group_by(Recorder.owner_id)
        .subquery()
    )
    session.execute(
        update(Owner).values(commune_id=first_commune.c.commune_id).where(Owner.id == first_commune.c.owner_id)
    )
    notify("recorders", report.recorders)

    def lens_values(row, commune_id):
        return {
            "external_id": row["external_id"],
            "recorder_id": recorder_ids[row["recorder_external_id"]],
            "commune_id": commune_id,
            "point": point_ewkt(row["lon"], row["lat"]),
            "bearing_deg": float(row["bearing_deg"]) if row["bearing_deg"] else None,
            "fov_deg": float(row["fov_deg"]),
            "range_m": float(row["range_m"]),
            "height_m": float(row["height_m"]) if row["height_m"] else None,
            "kind": row["kind"],
            "status": row["status"],
        }

    _insert_placed(
        session,
        directory,
        "lenses",
        Lens,
        locator,
        report,
        lens_values,
        keep_ids=False,
        progress=lambda count: notify("lenses", count),
    )
    _load_commitments(session, directory, owner_ids, recorder_ids, report)
    notify("commitments", report.commitments)
    forget_commune_locator(session)
    return report


def _load_admin_units(session: Session, path: Path, report: LoadReport) -> dict[str, int]:
    with open(path, encoding="utf-8") as handle:
        features = json.load(handle)["features"]
    ids: dict[str, int] = {}
    for feature in features:
        props = feature["properties"]
        if props.get("parent_code") and props["parent_code"] not in ids:
            raise DatasetError(f"admin_units.geojson: {props['code']}: parent {props['parent_code']} must come first")
        boundary = None
        if feature.get("geometry"):
            geometry = shape(feature["geometry"])
            boundary = from_shape(
                geometry if isinstance(geometry, MultiPolygon) else MultiPolygon([geometry]), srid=WGS84
            )
        unit = AdminUnit(
            code=props["code"],
            name=props["name"],
            level=AdminLevel(props["level"]),
            parent_id=ids.get(props.get("parent_code")),
            boundary=boundary,
            valid_from=date.fromisoformat(props["valid_from"]) if props.get("valid_from") else None,
            valid_to=date.fromisoformat(props["valid_to"]) if props.get("valid_to") else None,
            police_phone=props.get("police_phone"),
        )
        session.add(unit)
        session.flush()
        ids[unit.code] = unit.id
        report.admin_units += 1
    return ids


def _insert_keyed(session, directory, file, model, report, values) -> dict[str, int]:
    """Insert rows in batches and return external_id -> id."""
    for batch in _batches(directory, file):
        session.connection().execute(insert(model.__table__), [values(row) for row in batch])
        setattr(report, file, getattr(report, file) + len(batch))
    return dict(session.execute(select(model.external_id, model.id)).all())


def _insert_placed(session, directory, file, model, locator, report, values, keep_ids=True, progress=None):
    """Insert recorders or lenses with the commune derived from each point in bulk."""
    for batch in _batches(directory, file):
        communes = locator.locate_many([float(r["lon"]) for r in batch], [float(r["lat"]) for r in batch])
        try:
            session.connection().execute(
                insert(model.__table__), [values(row, commune) for row, commune in zip(batch, communes)]
            )
        except KeyError as missing:
            raise DatasetError(f"{file}.csv: reference to unknown external id {missing}") from None
        setattr(report, file, getattr(report, file) + len(batch))
        if progress:
            progress(getattr(report, file))
    return dict(session.execute(select(model.external_id, model.id)).all()) if keep_ids else {}


def _load_commitments(session, directory, owner_ids, recorder_ids, report) -> None:
    for batch in _batches(directory, "commitments"):
        links = []
        for row in batch:
            commitment = SharingCommitment(
                owner_id=owner_ids[row["owner_external_id"]],
                all_recorders=row["all_recorders"] == "1",
                signed_at=_moment(row["signed_at"]),
                valid_until=_moment(row["valid_until"]),
                channel=row["channel"],
                text_version=row["text_version"],
                revoked_at=_moment(row["revoked_at"]),
            )
            session.add(commitment)
            links.append((commitment, row["recorder_external_ids"]))
        session.flush()
        rows = [
            {"commitment_id": commitment.id, "recorder_id": recorder_ids[external_id]}
            for commitment, listed in links
            for external_id in filter(None, listed.split(";"))
        ]
        if rows:
            session.connection().execute(insert(commitment_recorders), rows)
        session.expunge_all()
        report.commitments += len(batch)


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


def point_ewkt(lon: str | float, lat: str | float) -> str:
    """A WGS84 point for bulk Core writes; the SRID is spelled out because PostGIS requires it."""
    return f"SRID={WGS84};POINT({float(lon)} {float(lat)})"


def _moment(text: str) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


__all__ = [
    "BATCH",
    "BUNDLED_SAMPLE",
    "DatasetError",
    "DatasetWriter",
    "LoadReport",
    "load_dataset",
    "point_ewkt",
    "registry_is_empty",
]
