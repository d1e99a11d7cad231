"""Uploads cannot make the service spend memory they do not hold: compression bombs, endless rows,
and JSON nested so deep that Python's parser gives up (issue 10, item 1)."""

from __future__ import annotations

import io
import resource
import secrets
import struct
import tracemalloc
import zipfile

import pytest

from camera_registry.services.upload_limits import TooDeep, load_json

MB = 1024 * 1024
HEADER = (
    "commune_code,site_code,owner_external_id,owner_kind,owner_name,owner_phone,recorder_external_id,"
    "retention_days,lens_external_id,lon,lat,bearing_deg,fov_deg,range_m,status,commitment_signed_at,"
    "commitment_valid_until"
)
GOOD_ROW = "A,site-a,owner-new,household,Hộ mới,0912000111,rec-new,14,lens-new-{n},105.8{n}5,21.02,90,90,30,active,,"
DEEP = 100_000

WORKBOOK_PARTS = {
    "[Content_Types].xml": '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
    'package/2006/content-types"><Default Extension="rels" ContentType="application/'
    'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType='
    '"application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName='
    '"/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.'
    'spreadsheetml.worksheet+xml"/></Types>',
    "_rels/.rels": '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/'
    'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
    'officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>',
    "xl/workbook.xml": '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/'
    'spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>',
    "xl/_rels/workbook.xml.rels": '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
    'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http:'
    '//schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    'Target="worksheets/sheet1.xml"/></Relationships>',
}


def write_workbook(sheet_blocks) -> bytes:
    """A minimal XLSX whose first sheet is the concatenation of `sheet_blocks` (bytes), written with zipfile."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, text in WORKBOOK_PARTS.items():
            archive.writestr(name, text)
        with archive.open("xl/worksheets/sheet1.xml", "w") as sheet:
            for block in sheet_blocks:
                sheet.write(block)
    return buffer.getvalue()


def bomb_sheet(inflated_mb: int):
    """A worksheet of `inflated_mb` MB: a header row, then the same row over and over (deflate loves it)."""
    yield (
        b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/'
        b'spreadsheetml/2006/main"><sheetData><row r="1">'
        + b"".join(f'<c t="inlineStr"><is><t>{name}</t></is></c>'.encode() for name in HEADER.split(","))
        + b"</row>"
    )
    row = b"<row><c><v>1</v></c></row>"
    block = row * (MB // len(row))
    for _ in range(inflated_mb):
        yield block
    yield b"</sheetData></worksheet>"


@pytest.fixture(scope="module")
def zip_bomb() -> bytes:
    """About 3 MB on the wire that inflates to a 600 MB sheet: the shape of the review's 3 MB / 3 GB file."""
    return write_workbook(bomb_sheet(600))


def lying_about_its_size(workbook: bytes, member: str, declared: int) -> bytes:
    """The same zip, with `member`'s uncompressed size in both of its headers rewritten to `declared` bytes."""
    data = bytearray(workbook)
    archive = zipfile.ZipFile(io.BytesIO(workbook))
    entry = archive.start_dir  # the central directory: one 46-byte entry plus name, extra and comment per member
    for info in archive.infolist():
        name_length, extra_length, comment_length = struct.unpack_from("<HHH", data, entry + 28)
        if info.filename == member:
            struct.pack_into("<I", data, entry + 24, declared)
            struct.pack_into("<I", data, info.header_offset + 22, declared)
        entry += 46 + name_length + extra_length + comment_length
    return bytes(data)


def upload(client, world, content: bytes, name: str, role: str = "police_a"):
    return client.post(
        "/api/v1/imports",
        headers=world.headers[role],
        data={"file": (io.BytesIO(content), name)},
        content_type="multipart/form-data",
    )


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


def measured(call):
    """Run `call`; return its result, the Python memory it peaked at, and how much it raised the process's peak
    RSS (calamine's Rust allocations do not show in tracemalloc, they do in RSS). Memory, not time: a shared
    machine makes seconds noisy, and a bomb that got inflated shows in memory whatever the load."""
    rss_before = peak_rss_mb()
    tracemalloc.start()
    try:
        result = call()
        _, python_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, python_peak / MB, peak_rss_mb() - rss_before


# --------------------------------------------------------------------------- workbooks


def test_a_zip_bomb_workbook_is_refused_with_413_in_little_memory(client, world, zip_bomb):
    assert len(zip_bomb) < 5 * MB
    response, python_mb, rss_growth_mb = measured(lambda: upload(client, world, zip_bomb, "register.xlsx"))
    assert response.status_code == 413, response.get_json()
    body = response.get_json()
    assert body["code"] == "payload_too_large"
    assert "more than 256 MB" in body["errors"]["file"][0]
    assert python_mb < 100 and rss_growth_mb < 100, (python_mb, rss_growth_mb)


def test_a_workbook_that_understates_its_size_is_refused_while_it_inflates(client, world, app, zip_bomb):
    """The directory says 1 KB; the sheet really inflates to 600 MB. Inflating it as a stream finds out."""
    liar = lying_about_its_size(zip_bomb, "xl/worksheets/sheet1.xml", 1000)
    assert zipfile.ZipFile(io.BytesIO(liar)).getinfo("xl/worksheets/sheet1.xml").file_size == 1000
    response, python_mb, rss_growth_mb = measured(lambda: upload(client, world, liar, "register.xlsx"))
    assert response.status_code in (413, 422), response.get_json()
    reason = response.get_json()["errors"]["file"][0]
    assert "expands" in reason or "rows" in reason
    assert python_mb < 100 and rss_growth_mb < 100, (python_mb, rss_growth_mb)


def sheet_of(rows: int, row: bytes | None = None):
    """A worksheet of `rows` rows: the same `row`, or (by default) two cells of random text in each."""
    body = (
        row * rows
        if row
        else b"".join(
            b'<row r="%d"><c t="inlineStr"><is><t>%s</t></is></c><c><v>%d</v></c></row>'
            % (n, secrets.token_hex(12).encode(), n)
            for n in range(1, rows + 1)
        )
    )
    return [
        b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>',
        body,
        b"</sheetData></worksheet>",
    ]


@pytest.mark.parametrize(
    "settings, status, reason",
    [
        ({"IMPORT_MAX_ROWS": 1000}, 422, "more than 1,000 rows"),
        ({"IMPORT_MAX_CELLS": 5000}, 413, "more than 5,000 cells"),
        ({"IMPORT_MAX_UNCOMPRESSED_MB": 1}, 413, "more than 1 MB"),
    ],
)
def test_each_workbook_limit_names_itself(client, world, app, settings, status, reason):
    workbook = write_workbook(sheet_of(30_000))  # 2.6 MB of sheet, 60,000 cells, compressing 3 times
    saved = {key: app.config[key] for key in settings}
    app.config.update(settings)
    try:
        response = upload(client, world, workbook, "register.xlsx")
    finally:
        app.config.update(saved)
    assert response.status_code == status, response.get_json()
    assert reason in response.get_json()["errors"]["file"][0]


def test_a_sheet_that_compresses_like_a_bomb_is_refused_by_its_ratio(client, world):
    """2 MB of one row repeated compresses some 300 times: no register does (real sheets: 5 to 20 times)."""
    workbook = write_workbook(sheet_of(80_000, b"<row><c><v>2</v></c></row>"))
    response = upload(client, world, workbook, "register.xlsx")
    assert response.status_code == 413, response.get_json()
    assert "expands more than 100 times" in response.get_json()["errors"]["file"][0]


def test_an_ordinary_workbook_still_imports(client, world):
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(HEADER.split(","))
    for n in (1, 2):
        sheet.append(GOOD_ROW.format(n=n).split(","))
    buffer = io.BytesIO()
    workbook.save(buffer)
    response = upload(client, world, buffer.getvalue(), "register.xlsx")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["lenses"]["created"] == 2


# --------------------------------------------------------------------------- rows


def test_too_many_rows_are_refused_before_any_is_checked(client, world, app):
    app.config["IMPORT_MAX_ROWS"] = 50
    try:
        csv = ("\n".join([HEADER, *(GOOD_ROW.format(n=n) for n in range(51))]) + "\n").encode()
        response = upload(client, world, csv, "register.csv")
        fits = upload(client, world, ("\n".join([HEADER, GOOD_ROW.format(n=1)]) + "\n").encode(), "register.csv")
    finally:
        app.config["IMPORT_MAX_ROWS"] = 200_000
    assert response.status_code == 422
    assert "more than 50 rows" in response.get_json()["errors"]["file"][0]
    assert fits.status_code == 200, fits.get_json()


def test_a_csv_line_of_endless_cells_is_refused(client, world):
    response = upload(client, world, (HEADER + "\n" + "," * 1_000_000 + "\n").encode(), "register.csv")
    assert response.status_code == 422
    assert "line 2 holds more than 500 cells" in response.get_json()["errors"]["file"][0]


# --------------------------------------------------------------------------- JSON nested too deep


def deep_array(depth: int = DEEP) -> str:
    return "[" * depth + "]" * depth


def test_a_deep_geojson_register_is_refused_with_422(client, world):
    document = (
        '{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {}, '
        f'"geometry": {{"type": "Point", "coordinates": {deep_array()}}}}}]}}'
    )
    response = upload(client, world, document.encode(), "register.geojson")
    assert response.status_code == 422, response.get_data(as_text=True)[:300]
    assert "nested deeper than 64 levels" in response.get_json()["errors"]["file"][0]


@pytest.mark.parametrize(
    "path, body",
    [
        (
            "/api/v1/footage-requests",
            '{"case_ref": "VV-1", "reason": "x", "legal_basis": "y", '
            '"window_start": "2026-01-01T00:00:00+07:00", "window_end": "2026-01-01T01:00:00+07:00", '
            '"incident": {"type": "Point", "coordinates": DEEP}}',
        ),
        (
            "/api/v1/lenses",
            '{"external_id": "L-deep", "recorder_id": 1, "point": {"type": "Point", "coordinates": DEEP}}',
        ),
        ("/api/v1/owners", '{"external_id": "o", "kind": "household", "name": DEEP}'),
    ],
)
def test_a_deep_json_body_is_refused_with_422_on_every_endpoint(client, world, path, body):
    response = client.post(
        path,
        headers={**world.headers["police_a"], "Content-Type": "application/json"},
        data=body.replace("DEEP", deep_array()),
    )
    assert response.status_code == 422, response.get_data(as_text=True)[:300]
    assert response.get_json()["errors"] == {"json": ["nested deeper than 64 levels of arrays and objects"]}


def test_geojson_as_deep_as_it_needs_is_taken(client, world):
    """The bound leaves room: a MultiPolygon nests 4 arrays deep inside its object."""
    value = load_json(
        '{"type": "MultiPolygon", "coordinates": [[[[105.8, 21.0], [105.9, 21.0], [105.9, 21.1], [105.8, 21.0]]]]}', 64
    )
    assert value["type"] == "MultiPolygon"
    with pytest.raises(TooDeep):
        load_json(deep_array(65), 64)
    load_json(deep_array(64), 64)  # exactly at the bound


def test_the_police_form_refuses_a_deep_incident(client, world, app):
    app.config["WTF_CSRF_ENABLED"] = False
    try:
        response = client.post(
            "/requests/new",
            headers=world.headers["police_a"],
            data={
                "case_ref": "VV-1",
                "reason": "x",
                "legal_basis": "y",
                "window_start": "2026-01-01T00:00",
                "window_end": "2026-01-01T01:00",
                "incident": f'{{"type": "Point", "coordinates": {deep_array()}}}',
            },
        )
    finally:
        app.config["WTF_CSRF_ENABLED"] = True
    assert response.status_code == 422, response.status_code
    assert "lồng sâu quá 64 cấp mảng và đối tượng" in response.get_data(as_text=True)  # the page's Vietnamese
