"""Bulk import of the registers communes keep: one row per lens, as CSV, XLSX or GeoJSON.

The whole file is checked before anything is written, so a register with one
bad row changes nothing and the clerk sees every problem at once. Rows match
the registry on external ids (codes for sites), so importing the same file
twice changes nothing. Writes are batched Core statements: a city register
holds tens of thousands of lenses.

Rules a clerk can rely on:
- a lens may move to another recorder of the same owner (an update); a lens
  or recorder is never moved to another owner by an import, since handing
  cameras to someone else is a decision, not a correction;
- a commitment signed on the same day (Vietnam time) as a stored one is that
  commitment, and only its validity changes; another day is a renewal, a new
  row, so the history of what was promised stays;
- an optional column left out of the file keeps what the registry holds.
"""

from __future__ import annotations

import csv
import json
import math
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from heapq import heappush, heapreplace
from pathlib import Path
from typing import Any, BinaryIO

from python_calamine import CalamineError, CalamineWorkbook
from sqlalchemy import BindParameter, Table, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..models import (
    AdminUnit,
    CommitmentChannel,
    Lens,
    LensKind,
    LensStatus,
    Owner,
    OwnerKind,
    Recorder,
    SharingCommitment,
    Site,
)
from ..timezones import local_midnight, local_today
from . import audit, rules
from .access import Actor
from .errors import Conflict, PermissionDenied, ValidationFailed
from .records import commune_refusal
from .registry import commune_locator
from .sample import BATCH, point_ewkt
from .upload_limits import TooDeep, UploadLimits, check_workbook, load_json

#: The default bound on data rows (IMPORT_MAX_ROWS); `import_register` takes the configured UploadLimits.
MAX_ROWS = UploadLimits.max_rows
#: Cells one CSV line may hold: a register has 26 columns; a line of a million commas is not a register.
MAX_CSV_CELLS = 500
LISTED_ERRORS = 1_000
IMPORT_TEXT_VERSION = "import"

REQUIRED_COLUMNS = (
    "commune_code",
    "site_code",
    "owner_external_id",
    "owner_kind",
    "owner_name",
    "owner_phone",
    "recorder_external_id",
    "retention_days",
    "lens_external_id",
    "lon",
    "lat",
    "bearing_deg",
    "fov_deg",
    "range_m",
    "status",
    "commitment_signed_at",
    "commitment_valid_until",
)
OPTIONAL_COLUMNS = (
    "owner_email",
    "owner_address",
    "site_name",
    "recorder_make",
    "recorder_model",
    "recorder_lon",
    "recorder_lat",
    "height_m",
    "lens_kind",
)
OWNER_KINDS = {
    "household": OwnerKind.HOUSEHOLD,
    "hộ gia đình": OwnerKind.HOUSEHOLD,
    "agency": OwnerKind.AGENCY,
    "cơ quan": OwnerKind.AGENCY,
    "business": OwnerKind.BUSINESS,
    "doanh nghiệp": OwnerKind.BUSINESS,
}
LENS_KINDS = {kind.value: kind for kind in LensKind}
LENS_STATUSES = {status.value: status for status in LensStatus}
ENTITIES = ("sites", "owners", "recorders", "lenses", "commitments")

# The file column a clerk fixes when a stored or repeated value disagrees.
_FILE_COLUMNS = {
    "site": {"commune_id": "commune_code", "name": "site_name"},
    "owner": {
        "kind": "owner_kind",
        "name": "owner_name",
        "phone": "owner_phone",
        "email": "owner_email",
        "address": "owner_address",
        "commune_id": "commune_code",
    },
    "recorder": {
        "owner_external_id": "owner_external_id",
        "site_code": "site_code",
        "point": "recorder_lon",
        "retention_days": "retention_days",
        "make": "recorder_make",
        "model": "recorder_model",
    },
    "commitment": {"valid_until": "commitment_valid_until"},
}


@dataclass(frozen=True)
class RowError:
    """One refused cell. Rows count as a spreadsheet shows them: the header is row 1."""

    row: int
    column: str
    reason: str

    def __str__(self) -> str:
        return f"row {self.row}, column {self.column}: {self.reason}"


@dataclass
class EntityCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass
class ImportReport:
    """What an import did (or, in a dry run or on errors, would do) to each kind of record."""

    filename: str
    dry_run: bool
    rows: int = 0
    sites: EntityCounts = field(default_factory=EntityCounts)
    owners: EntityCounts = field(default_factory=EntityCounts)
    recorders: EntityCounts = field(default_factory=EntityCounts)
    lenses: EntityCounts = field(default_factory=EntityCounts)
    commitments: EntityCounts = field(default_factory=EntityCounts)
    errors: list[RowError] = field(default_factory=list)  # the first LISTED_ERRORS, by row
    errors_not_listed: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors and not self.errors_not_listed

    @property
    def error_count(self) -> int:
        return len(self.errors) + self.errors_not_listed

    def counts(self) -> dict[str, dict[str, int]]:
        return {name: asdict(getattr(self, name)) for name in ENTITIES}


def import_register(
    session: Session,
    source: BinaryIO | Path,
    filename: str,
    *,
    actor: Actor,
    dry_run: bool = False,
    progress: Callable[[int, int], None] | None = None,
    limits: UploadLimits | None = None,
) -> ImportReport:
    """Check a register file and, when every row is acceptable and this is no dry run, write it.

    Writes happen in the caller's transaction, all or nothing. `progress(done,
    total)` follows the rows as they are read; `total` is an estimate until the
    last call. Raises ValidationFailed when the file itself cannot be read or
    holds more rows than `limits` allow, and PayloadTooLarge when it would
    expand past them (checked before it is read into memory).
    """
    limits = limits or UploadLimits()
    if actor.writable_communes is not None and not actor.writable_communes:
        raise PermissionDenied(f"{actor.label} may read the registry but not import into it")
    report = ImportReport(filename=filename, dry_run=dry_run)
    errors = _ErrorLog()
    notify = progress or (lambda done, total: None)
    session.flush()
    with _open_table(source, filename, errors, limits) as table:
        if table.total > limits.max_rows:
            raise _too_many_rows(limits.max_rows)
        if not _header_is_complete(table.columns, errors):
            return _finish(report, errors)
        register = _Register(session, actor, table.columns, errors)
        for number, cells in table.rows:
            if cells is not None and not any(cells.values()):
                continue  # a blank line between blocks of a register
            report.rows += 1
            if report.rows > limits.max_rows:
                raise _too_many_rows(limits.max_rows)
            if cells is not None:
                register.add_row(number, cells)
            if report.rows % BATCH == 0:
                notify(report.rows, max(table.total, report.rows))
    register.check_places()
    plan = _Plan(session, actor, register, errors)
    plan.compare()
    for name in ENTITIES:
        setattr(report, name, plan.counts(name))
    if errors.count == 0:
        if not dry_run:
            plan.write()
        audit.record(
            session,
            actor,
            "registry.import",
            "register_file",
            details={
                "filename": filename,
                "rows": report.rows,
                "dry_run": dry_run,
                **report.counts(),
            },
        )
    notify(report.rows, report.rows)
    return _finish(report, errors)


def _finish(report: ImportReport, errors: _ErrorLog) -> ImportReport:
    report.errors = errors.listed()
    report.errors_not_listed = errors.count - len(report.errors)
    return report


def _too_many_rows(max_rows: int) -> ValidationFailed:
    reason = f"the file holds more than {max_rows:,} rows; split the register into smaller files"
    return ValidationFailed(reason, {"file": [reason]})


def _unreadable(reason: str) -> ValidationFailed:
    return ValidationFailed(f"the file cannot be read: {reason}", {"file": [reason]})


class _ErrorLog:
    """Counts every error but keeps only the LISTED_ERRORS earliest by row, so a hopeless file cannot fill memory."""

    def __init__(self) -> None:
        self.count = 0
        self._kept: list[tuple[int, int, RowError]] = []  # a max-heap on (row, order) through negation

    def add(self, row: int, column: str, reason: str) -> None:
        self.count += 1
        item = (-row, -self.count, RowError(row, column, reason))
        if len(self._kept) < LISTED_ERRORS:
            heappush(self._kept, item)
        elif item > self._kept[0]:
            heapreplace(self._kept, item)

    def listed(self) -> list[RowError]:
        return [error for _, _, error in sorted(self._kept, reverse=True)]


# --------------------------------------------------------------------------- reading the three formats


@dataclass
class _Table:
    columns: list[str]
    rows: Iterator[tuple[int, dict[str, str] | None]]  # None: the reader already refused that row
    total: int  # data rows expected, for progress and the size limit; an estimate, 0 when unknown
    close: Callable[[], None] = lambda: None


@contextmanager
def _open_table(source: BinaryIO | Path, filename: str, errors: _ErrorLog, limits: UploadLimits) -> Iterator[_Table]:
    suffix = Path(filename).suffix.lower()
    reader = _READERS.get(suffix)
    if reader is None:
        reason = f"{filename!r} is not a register file: use .csv (UTF-8), .xlsx or .geojson"
        raise ValidationFailed(reason, {"file": [reason]})
    with open(source, "rb") if isinstance(source, Path) else nullcontext(source) as stream:
        table = reader(stream, errors, limits)
        try:
            yield table
        finally:
            table.close()


def _column_name(header: object) -> str:
    return str(header or "").strip().lower()


def _cell_text(value: object) -> str:
    """Spreadsheet and JSON values as the text a clerk would have typed."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _read_csv(stream: BinaryIO, errors: _ErrorLog, limits: UploadLimits) -> _Table:
    total = _count_lines(stream) - 1
    lines = _utf8_lines(stream, delimiters=",;")
    header_line = next(lines, None)
    if header_line is None:
        raise _unreadable("the file is empty")
    # Excel in a Vietnamese locale saves CSV with ';' between cells.
    delimiter = ";" if header_line.count(";") > header_line.count(",") else ","
    columns = [_column_name(name) for name in next(csv.reader([header_line], delimiter=delimiter), [])]

    def rows():
        reader = csv.reader(lines, delimiter=delimiter)
        try:
            for number, cells in enumerate(reader, start=2):
                yield number, {column: cell.strip() for column, cell in zip(columns, cells) if column}
        except csv.Error as error:
            raise _unreadable(f"row {reader.line_num}: {error}") from None

    return _Table(columns, rows(), max(total, 0))


def _utf8_lines(stream: BinaryIO, delimiters: str) -> Iterator[str]:
    for number, line in enumerate(stream, start=1):
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            raise _unreadable(f"line {number} is not UTF-8 text; save the sheet as 'CSV UTF-8'") from None
        if max(text.count(delimiter) for delimiter in delimiters) >= MAX_CSV_CELLS:
            raise _unreadable(
                f"line {number} holds more than {MAX_CSV_CELLS} cells; a register has one column per field"
            )
        yield text.removeprefix("\ufeff") if number == 1 else text


def _count_lines(stream: BinaryIO) -> int:
    if not stream.seekable():
        return 0
    start = stream.tell()
    lines = sum(chunk.count(b"\n") for chunk in iter(lambda: stream.read(1 << 20), b""))
    stream.seek(start)
    return lines


def _read_xlsx(stream: BinaryIO, errors: _ErrorLog, limits: UploadLimits) -> _Table:
    """The first sheet, read with calamine: 15x faster than openpyxl on a 55,000-row register.

    calamine holds the whole sheet in memory, so the workbook is first inflated
    as a stream and refused if it would expand past the limits."""
    check_workbook(stream, limits)
    try:
        sheet = CalamineWorkbook.from_filelike(stream).get_sheet_by_index(0)
        values = sheet.iter_rows()
        header = next(values, None)
    except CalamineError as error:
        raise _unreadable(f"not an XLSX workbook ({error})") from None
    if not header or not any(_cell_text(cell) for cell in header):
        raise _unreadable(f"the first sheet ({sheet.name}) is empty")
    columns = [_column_name(name) for name in header]

    rows = (
        (number, {column: _cell_text(cell) for column, cell in zip(columns, cells) if column})
        for number, cells in enumerate(values, start=2)
    )
    return _Table(columns, rows, max(sheet.height - 1, 0))


def _read_geojson(stream: BinaryIO, errors: _ErrorLog, limits: UploadLimits) -> _Table:
    """Each feature is one row, numbered as if the properties were a sheet under a header row."""
    try:
        document = load_json(stream.read(), limits.max_json_depth)
    except TooDeep as error:
        raise _unreadable(f"not GeoJSON: {error}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise _unreadable(f"not GeoJSON ({error})") from None
    features = document.get("features") if isinstance(document, dict) else None
    if not isinstance(features, list) or document.get("type") != "FeatureCollection":
        raise _unreadable("GeoJSON must be a FeatureCollection of Point features, one per lens")
    properties = [feature.get("properties") if isinstance(feature, dict) else None for feature in features]
    properties = [found if isinstance(found, dict) else {} for found in properties]
    columns = list(dict.fromkeys([*(_column_name(key) for found in properties for key in found), "lon", "lat"]))

    def rows():
        for number, (feature, found) in enumerate(zip(features, properties), start=2):
            geometry = feature.get("geometry") if isinstance(feature, dict) else None
            coordinates = geometry.get("coordinates") if isinstance(geometry, dict) else None
            if geometry is None or geometry.get("type") != "Point" or not _is_position(coordinates):
                kind = geometry.get("type") if isinstance(geometry, dict) else "no geometry"
                errors.add(number, "geometry", f"each feature must be a Point at the lens, not {kind}")
                yield number, None
                continue
            cells = {_column_name(key): _cell_text(value) for key, value in found.items()}
            cells["lon"], cells["lat"] = _cell_text(coordinates[0]), _cell_text(coordinates[1])
            yield number, cells

    return _Table(columns, rows(), len(features))


def _is_position(coordinates: object) -> bool:
    return (
        isinstance(coordinates, list)
        and len(coordinates) >= 2
        and all(isinstance(value, (int, float)) and not isinstance(value, bool) for value in coordinates[:2])
    )


_READERS = {".csv": _read_csv, ".xlsx": _read_xlsx, ".geojson": _read_geojson, ".json": _read_geojson}


def _header_is_complete(columns: list[str], errors: _ErrorLog) -> bool:
    known = {*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS}
    seen: set[str] = set()
    for column in columns:
        if column in seen and column in known:
            errors.add(1, column, "appears twice in the header")
        seen.add(column)
    for column in REQUIRED_COLUMNS:
        if column not in seen:
            errors.add(1, column, "required column is missing from the header")
    return errors.count == 0


# --------------------------------------------------------------------------- one row's cells


class _Row:
    """One data row, read cell by cell; each refusal is logged with the row and column."""

    def __init__(self, number: int, cells: dict[str, str], errors: _ErrorLog):
        self.row = number
        self.cells = cells
        self.errors = errors
        self.refusals = 0

    def refuse(self, column: str, reason: str) -> None:
        self.errors.add(self.row, column, reason)
        self.refusals += 1

    def text(self, column: str, max_length: int, *, required: bool = False) -> str | None:
        value = self.cells.get(column, "")
        if not value:
            if required:
                self.refuse(column, "is required")
            return None
        if len(value) > max_length:
            self.refuse(column, f"is {len(value)} characters long; at most {max_length} fit")
            return None
        return value

    def email(self) -> str | None:
        value = self.text("owner_email", 254)
        if value is not None and ("@" not in value or " " in value):
            self.refuse("owner_email", f"{value!r} is not an e-mail address")
            return None
        return value

    def number(
        self, column: str, check: Callable[[float], str | None] | None = None, *, required: bool = True
    ) -> float | None:
        value = self.cells.get(column, "")
        if not value:
            if required:
                self.refuse(column, "is required")
            return None
        # A Vietnamese-locale sheet writes a decimal comma: 105,826.
        written = value.replace(",", ".") if "," in value and "." not in value else value
        try:
            number = float(written)
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            self.refuse(column, f"{value!r} is not a number")
            return None
        reason = check(number) if check else None
        if reason:
            self.refuse(column, reason)
            return None
        return number

    def whole_number(self, column: str, check: Callable[[int], str | None]) -> int | None:
        number = self.number(column)
        if number is None:
            return None
        if not number.is_integer():
            self.refuse(column, f"{self.cells[column]!r} is not a whole number")
            return None
        reason = check(int(number))
        if reason:
            self.refuse(column, reason)
            return None
        return int(number)

    def choice(self, column: str, choices: Mapping[str, Any], *, default: Any = None) -> Any:
        value = self.cells.get(column, "")
        if not value:
            if default is None:
                self.refuse(column, "is required")
            return default
        chosen = choices.get(unicodedata.normalize("NFC", value).lower())
        if chosen is None:
            self.refuse(column, f"{value!r} is not one of: {', '.join(choices)}")
        return chosen

    def day(self, column: str) -> date | None:
        value = self.cells.get(column, "")
        if not value:
            return None
        try:
            if "/" in value:
                day, month, year = value.split("/")
                return date(int(year), int(month), int(day))
            return date.fromisoformat(value)
        except ValueError:
            self.refuse(column, f"{value!r} is not a date; write yyyy-mm-dd or dd/mm/yyyy")
            return None

    def position(self, lon_column: str, lat_column: str, *, required: bool) -> tuple[float, float] | None:
        lon_text, lat_text = self.cells.get(lon_column), self.cells.get(lat_column)
        if not required and not (lon_text and lat_text):
            if lon_text or lat_text:
                self.refuse(
                    lat_column if lon_text else lon_column, f"give both {lon_column} and {lat_column}, or neither"
                )
            return None
        lon, lat = self.number(lon_column), self.number(lat_column)
        if lon is None or lat is None:
            return None
        reason = rules.check_lon_lat(lon, lat)
        if reason:
            inside_lon = rules.VIETNAM_EXTENT[0] <= lon <= rules.VIETNAM_EXTENT[2]
            self.refuse(lat_column if inside_lon else lon_column, reason)
            return None
        return lon, lat


def _positive(number: float) -> str | None:
    return None if number > 0 else f"{number} must be above 0"


# --------------------------------------------------------------------------- the file as records


@dataclass(slots=True)
class _Entry:
    """One site, owner, recorder, lens or commitment as the file states it, from the first row naming it."""

    row: int
    values: dict[str, Any]


class _Register:
    """Everything the file says, one entry per record, with the rows that disagree refused."""

    def __init__(self, session: Session, actor: Actor, columns: list[str], errors: _ErrorLog):
        self.session = session
        self.actor = actor
        self.stated = set(columns)
        self.errors = errors
        self.today = local_today()
        self.sites: dict[str, _Entry] = {}
        self.owners: dict[str, _Entry] = {}
        self.recorders: dict[str, _Entry] = {}
        self.lenses: dict[str, _Entry] = {}
        self.commitments: dict[tuple[str, date], _Entry] = {}
        self.first_lens_point: dict[str, tuple[float, float]] = {}
        self.commune_names: dict[int, str] = {}
        self._lens_rows: dict[str, int] = {}
        self._communes: dict[str, int | str] = {}  # code -> id, or why the code is refused

    def add_row(self, number: int, cells: dict[str, str]) -> None:
        row = _Row(number, cells, self.errors)
        commune_id = self._commune(row)

        lens_id = row.text("lens_external_id", 64, required=True)
        if lens_id in self._lens_rows:
            row.refuse(
                "lens_external_id", f"lens {lens_id} is already on row {self._lens_rows[lens_id]}; one row per lens"
            )
            lens_id = None
        elif lens_id:
            self._lens_rows[lens_id] = number

        before = row.refusals
        site_code = row.text("site_code", 64, required=True)
        site = {"commune_id": commune_id}
        if "site_name" in self.stated and (site_name := row.text("site_name", 200)):
            site["name"] = site_name
        if row.refusals == before and commune_id is not None:
            self._note("site", self.sites, site_code, number, site)

        before = row.refusals
        owner_id = row.text("owner_external_id", 64, required=True)
        owner = {
            "kind": row.choice("owner_kind", OWNER_KINDS),
            "name": row.text("owner_name", 200, required=True),
            "phone": row.text("owner_phone", 32, required=True),
            "commune_id": commune_id,
        }
        if "owner_email" in self.stated:
            owner["email"] = row.email()
        if "owner_address" in self.stated:
            owner["address"] = row.text("owner_address", 500)
        if row.refusals == before and commune_id is not None:
            self._note("owner", self.owners, owner_id, number, owner)

        before = row.refusals
        recorder_id = row.text("recorder_external_id", 64, required=True)
        recorder = {
            "owner_external_id": owner_id,
            "site_code": site_code,
            "retention_days": row.whole_number("retention_days", rules.check_retention),
        }
        if "recorder_make" in self.stated:
            recorder["make"] = row.text("recorder_make", 100)
        if "recorder_model" in self.stated:
            recorder["model"] = row.text("recorder_model", 100)
        if ("recorder_lon" in self.stated or "recorder_lat" in self.stated) and (
            recorder_point := row.position("recorder_lon", "recorder_lat", required=False)
        ):
            recorder["point"] = recorder_point
        if row.refusals == before and owner_id and site_code:
            self._note("recorder", self.recorders, recorder_id, number, recorder)

        before = row.refusals
        lens = {
            "recorder_external_id": recorder_id,
            "point": row.position("lon", "lat", required=True),
            "commune_id": commune_id,
            "bearing_deg": row.number("bearing_deg", rules.check_bearing, required=False),
            "fov_deg": row.number("fov_deg", rules.check_fov),
            "range_m": row.number("range_m", rules.check_range),
            "status": row.choice("status", LENS_STATUSES),
        }
        if "height_m" in self.stated:
            lens["height_m"] = row.number("height_m", _positive, required=False)
        if "lens_kind" in self.stated:
            lens["kind"] = row.choice("lens_kind", LENS_KINDS, default=LensKind.FIXED)
        if row.refusals == before and lens_id and recorder_id and commune_id is not None:
            self.lenses[lens_id] = _Entry(number, lens)
            self.first_lens_point.setdefault(recorder_id, lens["point"])

        before = row.refusals
        signed = row.day("commitment_signed_at")
        valid_until = row.day("commitment_valid_until")
        if valid_until and not signed and not cells.get("commitment_signed_at"):
            row.refuse("commitment_signed_at", "is required when commitment_valid_until is given")
        if signed and signed > self.today:
            row.refuse("commitment_signed_at", f"{signed.isoformat()} lies in the future")
        if signed and valid_until and valid_until < signed:
            row.refuse(
                "commitment_valid_until", f"{valid_until.isoformat()} is before the signing date {signed.isoformat()}"
            )
        if row.refusals == before and signed and owner_id:
            self._note("commitment", self.commitments, (owner_id, signed), number, {"valid_until": valid_until})

    def _commune(self, row: _Row) -> int | None:
        code = row.text("commune_code", 32, required=True)
        if code is None:
            return None
        if code not in self._communes:
            self._communes[code] = self._look_up_commune(code)
        found = self._communes[code]
        if isinstance(found, str):
            row.refuse("commune_code", found)
            return None
        if not self.actor.can_write(found):
            row.refuse("commune_code", f"{self.commune_names[found]} is outside the communes you may change")
            return None
        return found

    def _look_up_commune(self, code: str) -> int | str:
        unit = self.session.scalar(select(AdminUnit).where(AdminUnit.code == code))
        refusal = commune_refusal(unit, code, self.today)
        if refusal:
            return refusal
        self.commune_names[unit.id] = unit.name
        return unit.id

    def _note(self, kind: str, entries: dict, key: Any, number: int, values: dict[str, Any]) -> None:
        """Keep the first row's values for a record; refuse later rows that say otherwise."""
        entry = entries.get(key)
        if entry is None:
            entries[key] = _Entry(number, values)
            return
        for column, value in values.items():
            if column not in entry.values:
                entry.values[column] = value  # e.g. a recorder's position, stated on a later row only
            elif not _same(entry.values[column], value):
                label = key[0] if kind == "commitment" else key
                self.errors.add(
                    number,
                    _FILE_COLUMNS[kind][column],
                    f"{self._shown(column, value)} here, but {self._shown(column, entry.values[column])} "
                    f"for the same {kind} {label} on row {entry.row}",
                )

    def _shown(self, column: str, value: Any) -> str:
        if value is None:
            return "blank"
        if column == "commune_id":
            return self.commune_names[value]
        if isinstance(value, (OwnerKind, LensKind, LensStatus)):
            return value.value
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, tuple):
            return f"({value[0]}, {value[1]})"
        return repr(value)

    def check_places(self) -> None:
        """Every lens, and every recorder given a position, must lie in its row's commune."""
        placed = [(entry, "lon", entry.values["commune_id"]) for entry in self.lenses.values()]
        for entry in self.recorders.values():
            owner = self.owners.get(entry.values["owner_external_id"])
            if "point" in entry.values and owner is not None:
                placed.append((entry, "recorder_lon", owner.values["commune_id"]))
        points = [entry.values["point"] for entry, _, _ in placed]
        found = commune_locator(self.session).locate_many([p[0] for p in points], [p[1] for p in points])
        for (entry, column, commune_id), point, located in zip(placed, points, found):
            if located != commune_id:
                where = (
                    f"it is in {self.commune_name(located)}" if located is not None else "it is in no current commune"
                )
                self.errors.add(
                    entry.row,
                    column,
                    f"{self._shown('point', point)} lies outside {self.commune_names[commune_id]}; {where}",
                )

    def commune_name(self, commune_id: int) -> str:
        if commune_id not in self.commune_names:
            self.commune_names[commune_id] = self.session.get(AdminUnit, commune_id).name
        return self.commune_names[commune_id]


def _same(stored: Any, value: Any) -> bool:
    if isinstance(value, float) and isinstance(stored, (int, float)):
        return math.isclose(stored, value, rel_tol=0, abs_tol=1e-9)
    if isinstance(value, tuple) and isinstance(stored, tuple):
        return all(math.isclose(a, b, rel_tol=0, abs_tol=1e-9) for a, b in zip(stored, value))
    return stored == value


# --------------------------------------------------------------------------- the file against the registry


@dataclass
class _Changes:
    """For one kind of record: ids of those already stored, new ones to insert, changed ones to update."""

    ids: dict[Any, int] = field(default_factory=dict)
    create: list[dict[str, Any]] = field(default_factory=list)
    update: list[dict[str, Any]] = field(default_factory=list)
    unchanged: int = 0


def _key_list(keys: list) -> BindParameter:
    """A batch of keys for IN, written into the statement when it runs.

    Bound one by one, every full batch is the same statement; psycopg then
    prepares it, and PostgreSQL's generic plan scans the 5,000 keys linearly
    for every row (measured: 10 s a batch instead of 50 ms). As literals,
    the array is a constant the planner hashes.
    """
    return bindparam("keys", keys, expanding=True, literal_execute=True)


def _start_of(day: date) -> datetime:
    return local_midnight(day).astimezone(UTC)


def _day_of(moment: datetime) -> date:
    return local_today(moment)


def _last_day(valid_until: datetime | None) -> date | None:
    """A commitment valid until midnight starting day D+1 holds through day D, as a clerk writes it."""
    return None if valid_until is None else _day_of(valid_until - timedelta(microseconds=1))


class _Plan:
    """What the file changes in the registry, found by reading the stored records in batches."""

    def __init__(self, session: Session, actor: Actor, register: _Register, errors: _ErrorLog):
        self.session = session
        self.actor = actor
        self.register = register
        self.errors = errors
        self.changes = {name: _Changes() for name in ENTITIES}
        self.recorders_refused_a_new_owner: set[str] = set()  # their lenses need no error of their own

    def counts(self, name: str) -> EntityCounts:
        changes = self.changes[name]
        return EntityCounts(len(changes.create), len(changes.update), changes.unchanged)

    def compare(self) -> None:
        self._compare_sites()
        self._compare_owners()
        self._compare_recorders()
        self._compare_lenses()
        self._compare_commitments()

    def _stored(self, statement: Callable[[Any], Any], keys) -> dict[Any, dict[str, Any]]:
        """Stored rows by key, `statement(batch)` selecting one batch of keys at a time."""
        keys = list(keys)
        found = {}
        for start in range(0, len(keys), BATCH):
            for row in self.session.execute(statement(_key_list(keys[start : start + BATCH]))):
                stored = dict(row._mapping)
                if "lon" in stored:
                    stored["point"] = (stored.pop("lon"), stored.pop("lat"))
                found[stored.pop("key")] = stored
        return found

    def _sort(self, changes: _Changes, key: Any, values: dict[str, Any], stored: dict[str, Any] | None) -> None:
        if stored is None:
            changes.create.append({"key": key, **values})
            return
        changes.ids[key] = stored["id"]
        changed = {column: value for column, value in values.items() if not _same(stored[column], value)}
        if changed:
            changes.update.append({"id": stored["id"], **changed})
        else:
            changes.unchanged += 1

    def _refuse_unwritable(self, entry: _Entry, column: str, what: str, commune_id: int | None) -> bool:
        if self.actor.can_write(commune_id):
            return False
        where = self.register.commune_name(commune_id) if commune_id is not None else "no commune"
        self.errors.add(entry.row, column, f"{what} is registered in {where}, outside the communes you may change")
        return True

    def _compare_sites(self) -> None:
        stored = self._stored(
            lambda keys: select(Site.code.label("key"), Site.id, Site.commune_id, Site.name).where(Site.code.in_(keys)),
            self.register.sites,
        )
        for code, entry in self.register.sites.items():
            found = stored.get(code)
            if found is not None and found["commune_id"] != entry.values["commune_id"]:
                self.errors.add(
                    entry.row,
                    "site_code",
                    f"site {code} belongs to {self.register.commune_name(found['commune_id'])}, "
                    f"not {self.register.commune_name(entry.values['commune_id'])}",
                )
                continue
            values = dict(entry.values) if found is not None else {"name": code, **entry.values}
            self._sort(self.changes["sites"], code, values, found)

    def _compare_owners(self) -> None:
        stored = self._stored(
            lambda keys: select(
                Owner.external_id.label("key"),
                Owner.id,
                Owner.kind,
                Owner.name,
                Owner.phone,
                Owner.email,
                Owner.address,
                Owner.commune_id,
            ).where(Owner.external_id.in_(keys)),
            self.register.owners,
        )
        for external_id, entry in self.register.owners.items():
            found = stored.get(external_id)
            if found is not None and self._refuse_unwritable(
                entry, "owner_external_id", f"owner {external_id}", found["commune_id"]
            ):
                continue
            self._sort(self.changes["owners"], external_id, entry.values, found)

    def _compare_recorders(self) -> None:
        stored = self._stored(
            lambda keys: (
                select(
                    Recorder.external_id.label("key"),
                    Recorder.id,
                    Owner.external_id.label("owner_external_id"),
                    Site.code.label("site_code"),
                    func.ST_X(Recorder.point).label("lon"),
                    func.ST_Y(Recorder.point).label("lat"),
                    Recorder.retention_days,
                    Recorder.make,
                    Recorder.model,
                    Recorder.commune_id,
                )
                .join(Recorder.owner)
                .outerjoin(Recorder.site)
                .where(Recorder.external_id.in_(keys))
            ),
            self.register.recorders,
        )
        for external_id, entry in self.register.recorders.items():
            found = stored.get(external_id)
            values = dict(entry.values)
            if found is not None:
                if self._refuse_unwritable(
                    entry, "recorder_external_id", f"recorder {external_id}", found["commune_id"]
                ):
                    continue
                if found["owner_external_id"] != values["owner_external_id"]:
                    self.recorders_refused_a_new_owner.add(external_id)
                    self.errors.add(
                        entry.row,
                        "owner_external_id",
                        f"recorder {external_id} belongs to owner {found['owner_external_id']}; "
                        "an import does not move recorders between owners",
                    )
                    continue
            elif "point" not in values:
                values["point"] = self.register.first_lens_point.get(external_id)
            owner = self.register.owners.get(values["owner_external_id"])
            if owner is None or ("point" in values and values["point"] is None):
                continue  # its rows were refused already
            if "point" in values:
                values["commune_id"] = owner.values["commune_id"]
            self._sort(self.changes["recorders"], external_id, values, found)

    def _compare_lenses(self) -> None:
        stored = self._stored(
            lambda keys: (
                select(
                    Lens.external_id.label("key"),
                    Lens.id,
                    Recorder.external_id.label("recorder_external_id"),
                    Owner.external_id.label("owner_external_id"),
                    func.ST_X(Lens.point).label("lon"),
                    func.ST_Y(Lens.point).label("lat"),
                    Lens.commune_id,
                    Lens.bearing_deg,
                    Lens.fov_deg,
                    Lens.range_m,
                    Lens.height_m,
                    Lens.kind,
                    Lens.status,
                )
                .join(Lens.recorder)
                .join(Recorder.owner)
                .where(Lens.external_id.in_(keys))
            ),
            self.register.lenses,
        )
        for external_id, entry in self.register.lenses.items():
            found = stored.get(external_id)
            recorder_id = entry.values["recorder_external_id"]
            recorder = self.register.recorders.get(recorder_id)
            if found is not None:
                if self._refuse_unwritable(entry, "lens_external_id", f"lens {external_id}", found["commune_id"]):
                    continue
                if (
                    recorder is not None
                    and recorder_id not in self.recorders_refused_a_new_owner
                    and found["owner_external_id"] != recorder.values["owner_external_id"]
                ):
                    self.errors.add(
                        entry.row,
                        "recorder_external_id",
                        f"lens {external_id} is on recorder {found['recorder_external_id']} of owner "
                        f"{found['owner_external_id']}; an import moves a lens only between recorders "
                        "of the same owner",
                    )
                    continue
            self._sort(self.changes["lenses"], external_id, entry.values, found)

    def _compare_commitments(self) -> None:
        owners = sorted({owner for owner, _ in self.register.commitments})
        stored: dict[str, list] = defaultdict(list)
        for start in range(0, len(owners), BATCH):
            rows = self.session.execute(
                select(
                    Owner.external_id, SharingCommitment.id, SharingCommitment.signed_at, SharingCommitment.valid_until
                )
                .join(SharingCommitment.owner)
                .where(Owner.external_id.in_(_key_list(owners[start : start + BATCH])))
                .order_by(SharingCommitment.id)
            )
            for owner, commitment_id, signed_at, valid_until in rows:
                stored[owner].append((commitment_id, _day_of(signed_at), valid_until))
        changes = self.changes["commitments"]
        for (owner, signed), entry in self.register.commitments.items():
            valid_until = entry.values["valid_until"]
            match = next((found for found in stored[owner] if found[1] == signed), None)
            end = _start_of(valid_until + timedelta(days=1)) if valid_until else None
            if match is None:
                changes.create.append({"owner": owner, "signed_at": _start_of(signed), "valid_until": end})
            elif _last_day(match[2]) != valid_until:
                changes.update.append({"id": match[0], "valid_until": end})
            else:
                changes.unchanged += 1

    def write(self) -> None:
        """Insert and update in batches, parents first; any clash with a concurrent writer undoes it all."""
        try:
            with self.session.begin_nested():
                self._write()
        except IntegrityError:
            raise Conflict("the registry changed while the file was imported; import it again") from None
        self.session.expire_all()

    def _write(self) -> None:
        connection = self.session.connection()
        sites, owners, recorders, lenses, commitments = (self.changes[name] for name in ENTITIES)
        site_ids = sites.ids | _insert(
            connection,
            Site.__table__,
            key="code",
            rows=[
                {"code": row["key"], "name": row["name"], "commune_id": row["commune_id"], "point": None}
                for row in sites.create
            ],
        )
        _update(connection, Site.__table__, sites.update)
        owner_ids = owners.ids | _insert(
            connection,
            Owner.__table__,
            key="external_id",
            rows=[
                {
                    "external_id": row["key"],
                    "kind": row["kind"],
                    "name": row["name"],
                    "phone": row["phone"],
                    "email": row.get("email"),
                    "address": row.get("address"),
                    "commune_id": row["commune_id"],
                }
                for row in owners.create
            ],
        )
        _update(connection, Owner.__table__, owners.update)
        recorder_ids = recorders.ids | _insert(
            connection,
            Recorder.__table__,
            key="external_id",
            rows=[
                {
                    "external_id": row["key"],
                    "owner_id": owner_ids[row["owner_external_id"]],
                    "site_id": site_ids[row["site_code"]],
                    "commune_id": row["commune_id"],
                    "point": point_ewkt(*row["point"]),
                    "retention_days": row["retention_days"],
                    "make": row.get("make"),
                    "model": row.get("model"),
                    "status": "active",
                }
                for row in recorders.create
            ],
        )
        _update(
            connection,
            Recorder.__table__,
            [_columns(row, {"site_code": ("site_id", site_ids)}) for row in recorders.update],
        )
        _insert(
            connection,
            Lens.__table__,
            [
                {
                    "external_id": row["key"],
                    "recorder_id": recorder_ids[row["recorder_external_id"]],
                    "commune_id": row["commune_id"],
                    "point": point_ewkt(*row["point"]),
                    "bearing_deg": row["bearing_deg"],
                    "fov_deg": row["fov_deg"],
                    "range_m": row["range_m"],
                    "height_m": row.get("height_m"),
                    "kind": row.get("kind", LensKind.FIXED),
                    "status": row["status"],
                }
                for row in lenses.create
            ],
        )
        _update(
            connection,
            Lens.__table__,
            [_columns(row, {"recorder_external_id": ("recorder_id", recorder_ids)}) for row in lenses.update],
        )
        _insert(
            connection,
            SharingCommitment.__table__,
            [
                {
                    "owner_id": owner_ids[row["owner"]],
                    "all_recorders": True,
                    "signed_at": row["signed_at"],
                    "valid_until": row["valid_until"],
                    "channel": CommitmentChannel.PAPER,
                    "text_version": IMPORT_TEXT_VERSION,
                    "revoked_at": None,
                }
                for row in commitments.create
            ],
        )
        _update(connection, SharingCommitment.__table__, commitments.update)


def _columns(change: dict[str, Any], references: dict[str, tuple[str, dict[Any, int]]]) -> dict[str, Any]:
    """A change in the file's terms (external ids, lon/lat) as table columns."""
    columns = {}
    for name, value in change.items():
        if name in references:
            column, ids = references[name]
            columns[column] = ids[value]
        elif name == "point":
            columns["point"] = point_ewkt(*value)
        else:
            columns[name] = value
    return columns


def _insert(connection, table: Table, rows: list[dict[str, Any]], key: str | None = None) -> dict[Any, int]:
    """Insert in batches; with `key`, return key -> new id.

    The ids are selected afterwards: RETURNING over an executemany makes
    psycopg parse one huge statement per batch, several times slower.
    """
    ids = {}
    for start in range(0, len(rows), BATCH):
        batch = rows[start : start + BATCH]
        connection.execute(insert(table), batch)
        if key is not None:
            keys = _key_list([row[key] for row in batch])
            ids.update(
                (found, row_id)
                for found, row_id in connection.execute(select(table.c[key], table.c.id).where(table.c[key].in_(keys)))
            )
    return ids


def _update(connection, table: Table, changes: list[dict[str, Any]]) -> None:
    """Apply per-row changes, one executemany for each set of changed columns.

    A versioned row (site, owner, recorder, lens) gets its version bumped, as an
    ORM write would: an edit based on what was read before the import is refused.
    """
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for change in changes:
        groups[tuple(sorted(column for column in change if column != "id"))].append(change)
    bump = {"version": table.c.version + 1} if "version" in table.c else {}
    for columns, rows in groups.items():
        statement = (
            update(table)
            .where(table.c.id == bindparam("_id"))
            .values({**{column: bindparam(f"_{column}", type_=table.c[column].type) for column in columns}, **bump})
        )
        for start in range(0, len(rows), BATCH):
            connection.execute(
                statement, [{f"_{name}": value for name, value in row.items()} for row in rows[start : start + BATCH]]
            )


__all__ = [
    "EntityCounts",
    "ImportReport",
    "LISTED_ERRORS",
    "MAX_ROWS",
    "OPTIONAL_COLUMNS",
    "REQUIRED_COLUMNS",
    "RowError",
    "import_register",
]
