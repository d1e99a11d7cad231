"""Tables as downloads: CSV (UTF-8 with a BOM, so Excel reads Vietnamese) and XLSX.

XLSX is written with XlsxWriter: write-only, no dependencies of its own, and
codes such as "00226" are written as text so a spreadsheet keeps the zeros.
A CSV cell is read by the spreadsheet as typed, so a text cell that would
start a formula (a unit named "=HYPERLINK(...)") is written with a leading
apostrophe (OWASP's advice for CSV injection); numbers are written as they are.
A moment is written in Vietnam time, as people read it: ISO 8601 with its offset
in the CSV, a date and time cell in the workbook; a flag is `true`/`false` in
the CSV (which spreadsheets read as booleans) and a boolean cell in the workbook.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime

import xlsxwriter
from flask import Response, request

from ..http.figures import Column
from ..timezones import LOCAL_ZONE

CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMATS = {"json": "application/json", "csv": CSV, "xlsx": XLSX}
#: What a spreadsheet takes as the start of a formula (tab and carriage return too: some strip them first).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: What a sheet's name may not hold, and its most characters (Excel's rules).
SHEET_NAME_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
SHEET_NAME_LENGTH = 31


def requested_format(explicit: str | None) -> str:
    """`format=` when given, else the best of the Accept header (JSON by default)."""
    if explicit:
        return explicit
    best = request.accept_mimetypes.best_match(list(FORMATS.values()), default="application/json")
    return next(name for name, mimetype in FORMATS.items() if mimetype == best)


def table_response(
    columns: list[Column], rows: list[dict], filename: str, table_format: str, sheet_name: str
) -> Response:
    """`rows` (dicts keyed by column name) as a CSV or XLSX attachment named `filename`.<format>; an XLSX
    workbook's one sheet is named `sheet_name`, less what Excel refuses in a sheet's name."""
    body = _csv(columns, rows) if table_format == "csv" else _xlsx(columns, rows, sheet_name)
    response = Response(body, mimetype=FORMATS[table_format])
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}.{table_format}"'
    return response


def _csv(columns: list[Column], rows: list[dict]) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow([csv_cell(str(column.header)) for column in columns])
    for row in rows:
        writer.writerow([csv_cell(_csv_value(column, row[column.name])) for column in columns])
    return ("\ufeff" + text.getvalue()).encode("utf-8")


def _csv_value(column: Column, value: object) -> object:
    if value is None:
        return None
    if column.kind == "flag":
        return "true" if value else "false"
    if column.kind == "moment":
        return _local(value).isoformat(timespec="seconds")
    return value


def _local(moment: str) -> datetime:
    """A dumped aware moment in Vietnam time."""
    return datetime.fromisoformat(moment).astimezone(LOCAL_ZONE)


def csv_cell(value: object) -> object:
    """A value as a CSV cell that a spreadsheet shows as text, never runs: text that starts a formula gets a `'`."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _xlsx(columns: list[Column], rows: list[dict], sheet_name: str) -> bytes:
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = workbook.add_worksheet(SHEET_NAME_FORBIDDEN.sub("-", sheet_name).strip("'")[:SHEET_NAME_LENGTH] or None)
    formats = {
        kind: workbook.add_format({"num_format": pattern})
        for kind, pattern in (("rate", "0.0%"), ("number", "0.0"), ("moment", "dd/mm/yyyy hh:mm"))
    }
    sheet.write_row(
        0, 0, [str(column.header) for column in columns], workbook.add_format({"bold": True, "text_wrap": True})
    )
    for r, row in enumerate(rows, start=1):
        for c, column in enumerate(columns):
            value = row[column.name]
            if value is None:
                continue
            if column.kind == "text":
                sheet.write_string(r, c, str(value))
            elif column.kind == "flag":
                sheet.write_boolean(r, c, value)
            elif column.kind == "moment":
                sheet.write_datetime(r, c, _local(value).replace(tzinfo=None), formats["moment"])
            else:
                sheet.write_number(r, c, value, formats.get(column.kind))
    sheet.freeze_panes(1, 0)
    sheet.set_column(0, len(columns) - 1, 14)
    workbook.close()
    return buffer.getvalue()
