"""Register files to rows: CSV (UTF-8, ',' or ';'), XLSX (first sheet) and GeoJSON (one Point per lens).

Every reader yields (row number, cells by lower-case column name) as a
spreadsheet numbers them, and refuses a file that is unreadable or larger
than the upload limits before a register is built from it.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import BinaryIO

from python_calamine import CalamineError, CalamineWorkbook

from ..errors import ValidationFailed
from ..messages import refusal
from ..upload_limits import TooDeep, UploadLimits, check_workbook, load_json, unreadable
from .report import ErrorLog

#: The default bound on data rows (IMPORT_MAX_ROWS); `import_register` takes the configured UploadLimits.
MAX_ROWS = UploadLimits.max_rows
#: Cells one CSV line may hold: a register has 26 columns; a line of a million commas is not a register.
MAX_CSV_CELLS = 500


@dataclass
class Table:
    columns: list[str]
    rows: Iterator[tuple[int, dict[str, str] | None]]  # None: the reader already refused that row
    total: int  # data rows expected, for progress and the size limit; an estimate, 0 when unknown
    close: Callable[[], None] = lambda: None


def reader_for(filename: str):
    """The reader of a register file by its name's suffix; ValidationFailed for any other file."""
    reader = _READERS.get(Path(filename).suffix.lower())
    if reader is None:
        reason = refusal("%(file)s is not a register file: use .csv (UTF-8), .xlsx or .geojson", file=repr(filename))
        raise ValidationFailed(reason, {"file": [reason]})
    return reader


@contextmanager
def open_table(source: BinaryIO | Path, filename: str, errors: ErrorLog, limits: UploadLimits) -> Iterator[Table]:
    reader = reader_for(filename)
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


def _read_csv(stream: BinaryIO, errors: ErrorLog, limits: UploadLimits) -> Table:
    total = _count_lines(stream) - 1
    lines = _utf8_lines(stream, delimiters=",;")
    header_line = next(lines, None)
    if header_line is None:
        raise unreadable(refusal("the file is empty"))
    # Excel in a Vietnamese locale saves CSV with ';' between cells.
    delimiter = ";" if header_line.count(";") > header_line.count(",") else ","
    columns = [_column_name(name) for name in next(csv.reader([header_line], delimiter=delimiter), [])]

    def rows():
        reader = csv.reader(lines, delimiter=delimiter)
        try:
            for number, cells in enumerate(reader, start=2):
                yield number, {column: cell.strip() for column, cell in zip(columns, cells) if column}
        except csv.Error as error:
            raise unreadable(refusal("row %(row)s: %(error)s", row=reader.line_num, error=str(error))) from None

    return Table(columns, rows(), max(total, 0))


def _utf8_lines(stream: BinaryIO, delimiters: str) -> Iterator[str]:
    for number, line in enumerate(stream, start=1):
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            raise unreadable(
                refusal("line %(line)s is not UTF-8 text; save the sheet as 'CSV UTF-8'", line=number)
            ) from None
        if max(text.count(delimiter) for delimiter in delimiters) >= MAX_CSV_CELLS:
            raise unreadable(
                refusal(
                    "line %(line)s holds more than %(cells)s cells; a register has one column per field",
                    line=number,
                    cells=MAX_CSV_CELLS,
                )
            )
        yield text.removeprefix("\ufeff") if number == 1 else text


def _count_lines(stream: BinaryIO) -> int:
    if not stream.seekable():
        return 0
    start = stream.tell()
    lines = sum(chunk.count(b"\n") for chunk in iter(lambda: stream.read(1 << 20), b""))
    stream.seek(start)
    return lines


def _read_xlsx(stream: BinaryIO, errors: ErrorLog, limits: UploadLimits) -> Table:
    """The first sheet, read with calamine: 15x faster than openpyxl on a 55,000-row register.

    calamine holds the whole sheet in memory, so the workbook is first inflated
    as a stream and refused if it would expand past the limits."""
    check_workbook(stream, limits)
    try:
        sheet = CalamineWorkbook.from_filelike(stream).get_sheet_by_index(0)
        values = sheet.iter_rows()
        header = next(values, None)
    except CalamineError as error:
        raise unreadable(refusal("not an XLSX workbook (%(error)s)", error=str(error))) from None
    if not header or not any(_cell_text(cell) for cell in header):
        raise unreadable(refusal("the first sheet (%(sheet)s) is empty", sheet=sheet.name))
    columns = [_column_name(name) for name in header]

    rows = (
        (number, {column: _cell_text(cell) for column, cell in zip(columns, cells) if column})
        for number, cells in enumerate(values, start=2)
    )
    return Table(columns, rows, max(sheet.height - 1, 0))


def _read_geojson(stream: BinaryIO, errors: ErrorLog, limits: UploadLimits) -> Table:
    """Each feature is one row, numbered as if the properties were a sheet under a header row."""
    try:
        document = load_json(stream.read(), limits.max_json_depth)
    except TooDeep as error:
        raise unreadable(refusal("not GeoJSON: %(error)s", error=error.args[0])) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise unreadable(refusal("not GeoJSON (%(error)s)", error=str(error))) from None
    features = document.get("features") if isinstance(document, dict) else None
    if not isinstance(features, list) or document.get("type") != "FeatureCollection":
        raise unreadable(refusal("GeoJSON must be a FeatureCollection of Point features, one per lens"))
    properties = [feature.get("properties") if isinstance(feature, dict) else None for feature in features]
    properties = [found if isinstance(found, dict) else {} for found in properties]
    columns = list(dict.fromkeys([*(_column_name(key) for found in properties for key in found), "lon", "lat"]))

    def rows():
        for number, (feature, found) in enumerate(zip(features, properties), start=2):
            geometry = feature.get("geometry") if isinstance(feature, dict) else None
            coordinates = geometry.get("coordinates") if isinstance(geometry, dict) else None
            if geometry is None or geometry.get("type") != "Point" or not _is_position(coordinates):
                kind = geometry.get("type") if isinstance(geometry, dict) else "no geometry"
                errors.add(
                    number, "geometry", refusal("each feature must be a Point at the lens, not %(kind)s", kind=kind)
                )
                yield number, None
                continue
            cells = {_column_name(key): _cell_text(value) for key, value in found.items()}
            cells["lon"], cells["lat"] = _cell_text(coordinates[0]), _cell_text(coordinates[1])
            yield number, cells

    return Table(columns, rows(), len(features))


def _is_position(coordinates: object) -> bool:
    return (
        isinstance(coordinates, list)
        and len(coordinates) >= 2
        and all(isinstance(value, (int, float)) and not isinstance(value, bool) for value in coordinates[:2])
    )


_READERS = {".csv": _read_csv, ".xlsx": _read_xlsx, ".geojson": _read_geojson, ".json": _read_geojson}
