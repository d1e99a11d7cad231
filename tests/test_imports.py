"""Bulk import of commune registers: formats, every error reported, all or nothing, idempotent re-imports."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime

import openpyxl
import pytest
from geoalchemy2.shape import to_shape
from import_support import TEMPLATE, csv_bytes, template_rows
from sample_support import SampleOnce
from sqlalchemy import func, select

from camera_registry.models import (
    AdminLevel,
    AdminUnit,
    AuditEvent,
    Lens,
    LensKind,
    Owner,
    OwnerKind,
    Recorder,
    Role,
    SharingCommitment,
    Site,
)
from camera_registry.services.access import SYSTEM, Actor
from camera_registry.services.errors import ValidationFailed
from camera_registry.services.imports import LISTED_ERRORS, import_register

BA_DINH_POINT = ("105.8345", "21.0365")  # inside Phường Ba Đình, outside Phường Đống Đa


@pytest.fixture(scope="module")
def sample(engine):
    loaded = SampleOnce(engine)
    yield loaded
    loaded.close()


@pytest.fixture()
def db_connection(sample):
    """Every test here runs on the bundled sample, loaded once for the module, in a savepoint of its own."""
    with sample.savepoint() as connection:
        yield connection


@pytest.fixture()
def demo(sample):
    return sample.report


def run(session, rows: list[dict[str, str]], *, actor: Actor = SYSTEM, dry_run: bool = False):
    return import_register(session, io.BytesIO(csv_bytes(rows)), "register.csv", actor=actor, dry_run=dry_run)


def counts(report) -> dict[str, tuple[int, int, int]]:
    return {name: (c["created"], c["updated"], c["unchanged"]) for name, c in report.counts().items()}


def registry_size(session) -> tuple[int, ...]:
    return tuple(
        session.scalar(select(func.count()).select_from(model))
        for model in (Site, Owner, Recorder, Lens, SharingCommitment)
    )


def lens(session, external_id: str) -> Lens:
    return session.scalar(select(Lens).where(Lens.external_id == external_id))


def commune(session, code: str) -> AdminUnit:
    return session.scalar(select(AdminUnit).where(AdminUnit.code == code))


TEMPLATE_COUNTS = {
    "sites": (0, 0, 2),
    "owners": (3, 0, 0),
    "recorders": (3, 0, 0),
    "lenses": (4, 0, 0),
    "commitments": (2, 0, 0),
}
# Imported again, every row the template holds is unchanged.
UNCHANGED = {name: (0, 0, sum(rows)) for name, rows in TEMPLATE_COUNTS.items()}


def test_template_creates_the_register_in_its_commune(session, demo):
    report = import_register(session, TEMPLATE, TEMPLATE.name, actor=SYSTEM)
    assert report.ok and report.rows == 4 and counts(report) == TEMPLATE_COUNTS

    dong_da = commune(session, "00235")
    assert {lens(session, f"00235-L-000{n}").commune_id for n in range(1, 5)} == {dong_da.id}
    household = session.scalar(select(Owner).where(Owner.external_id == "00235-O-001"))
    assert household.kind == OwnerKind.HOUSEHOLD and household.commune_id == dong_da.id and household.email is None
    dome = lens(session, "00235-L-0003")
    assert dome.bearing_deg is None and dome.fov_deg == 360 and dome.kind == LensKind.DOME
    # A recorder without its own position sits at its first lens; a stated one is kept.
    first_recorder = session.scalar(select(Recorder).where(Recorder.external_id == "00235-R-001"))
    assert to_shape(first_recorder.point).coords[0] == (105.8262, 21.0138)
    assert to_shape(lens(session, "00235-L-0002").recorder.point).coords[0] == (105.8251, 21.0131)

    business = session.scalar(select(Owner).where(Owner.external_id == "00235-O-002"))
    [commitment] = business.commitments
    # Dates are Vietnamese calendar days: signed from midnight, valid through the last day.
    assert commitment.signed_at == datetime(2025, 3, 14, 17, tzinfo=UTC)
    assert commitment.valid_until == datetime(2028, 3, 14, 17, tzinfo=UTC)
    assert commitment.all_recorders and commitment.text_version == "import" and commitment.channel.value == "paper"

    [event] = session.scalars(select(AuditEvent).where(AuditEvent.action == "registry.import"))
    assert event.details["filename"] == TEMPLATE.name and event.details["dry_run"] is False
    assert event.details["lenses"] == {"created": 4, "updated": 0, "unchanged": 0}


@pytest.mark.parametrize("delimiter,bom", [(";", False), (",", True), (";", True)])
def test_csv_from_vietnamese_excel_is_read_the_same(session, demo, delimiter, bom):
    rows = template_rows()
    rows[0]["lon"] = rows[0]["lon"].replace(".", ",")  # a decimal comma
    data = csv_bytes(rows, delimiter=delimiter, bom=bom)
    report = import_register(session, io.BytesIO(data), "Sổ camera.CSV", actor=SYSTEM)
    assert report.ok, report.errors
    assert counts(report) == TEMPLATE_COUNTS


def test_xlsx_with_typed_cells_imports_like_the_csv(session, demo, tmp_path):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    header = list(template_rows()[0])
    sheet.append([name.upper() for name in header])  # header case does not matter
    for row in template_rows():
        typed = dict(row)
        for column in ("lon", "lat", "fov_deg", "range_m", "retention_days"):
            typed[column] = float(row[column])
        for column in ("commitment_signed_at", "commitment_valid_until"):
            if row[column]:
                day = row[column]
                typed[column] = datetime.strptime(day, "%d/%m/%Y") if "/" in day else datetime.fromisoformat(day)
        sheet.append([typed[column] or None for column in header])
    sheet.insert_rows(4)  # a blank row between blocks, as clerks leave them
    sheet["F6"] = None  # owner_name of the last lens row (sheet row 6)
    path = tmp_path / "so-camera.xlsx"
    workbook.save(path)

    refused = import_register(session, path, path.name, actor=SYSTEM)
    assert [str(error) for error in refused.errors] == ["row 6, column owner_name: is required"]

    sheet["F6"] = "Trường Tiểu học Tây Sơn"
    workbook.save(path)
    report = import_register(session, path, path.name, actor=SYSTEM)
    assert report.ok and report.rows == 4 and counts(report) == TEMPLATE_COUNTS
    assert session.scalar(
        select(SharingCommitment.signed_at).join(Owner).where(Owner.external_id == "00235-O-003")
    ) == datetime(2025, 8, 31, 17, tzinfo=UTC)


def geojson_bytes(rows: list[dict[str, str]]) -> bytes:
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [float(row["lon"]), float(row["lat"])]},
            "properties": {key: value for key, value in row.items() if key not in ("lon", "lat")},
        }
        for row in rows
    ]
    return json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False).encode()


def test_geojson_points_are_lenses(session, demo):
    report = import_register(session, io.BytesIO(geojson_bytes(template_rows())), "so.geojson", actor=SYSTEM)
    assert report.ok and counts(report) == TEMPLATE_COUNTS
    assert to_shape(lens(session, "00235-L-0004").point).coords[0] == (105.8249, 21.0152)


def test_geojson_feature_that_is_not_a_point_is_refused(session, demo):
    document = json.loads(geojson_bytes(template_rows()))
    document["features"][1]["geometry"] = {"type": "LineString", "coordinates": [[105.82, 21.01], [105.83, 21.01]]}
    report = import_register(session, io.BytesIO(json.dumps(document).encode()), "so.geojson", actor=SYSTEM)
    assert [(error.row, error.column) for error in report.errors] == [(3, "geometry")]
    assert "Point" in report.errors[0].reason


def test_a_bad_file_reports_every_error_and_writes_nothing(session, demo):
    closed = AdminUnit(code="00217", name="Phường Trung Liệt", level=AdminLevel.COMMUNE, valid_to=date(2025, 7, 1))
    session.add(closed)  # merged into Phường Đống Đa in the 2025 reform
    session.flush()
    before = registry_size(session)
    rows = template_rows()
    household, business, dome, agency = rows
    household["lon"] = "105,82,6"
    business["fov_deg"] = "400"
    dome["commitment_valid_until"] = "01/01/2024"
    agency["owner_kind"] = "khác"
    agency["retention_days"] = "400"
    agency["commitment_signed_at"] = "31/02/2025"
    rows += [
        {**household, "lon": "105.8262"},  # row 6: the household's lens again
        {**household, "lon": "105.8262", "lens_external_id": "00235-L-0005", "owner_external_id": "00235-O-009"},
        {**household, "lon": "105.8262", "lens_external_id": "00235-L-0006", "commune_code": "99999"},
        {**household, "lens_external_id": "00235-L-0007", "lon": BA_DINH_POINT[0], "lat": BA_DINH_POINT[1]},
        {**household, "lon": "105.8262", "lens_external_id": "00235-L-0008", "commune_code": "00217"},
        {**household, "lon": "105.8262", "lens_external_id": "00235-L-0009", "lat": "51.5"},
    ]
    report = run(session, rows)

    assert not report.ok and report.errors_not_listed == 0
    found = {(error.row, error.column): error.reason for error in report.errors}
    assert set(found) == {
        (2, "lon"),
        (3, "fov_deg"),
        (4, "commitment_valid_until"),
        (5, "owner_kind"),
        (5, "retention_days"),
        (5, "commitment_signed_at"),
        (6, "lens_external_id"),
        (7, "owner_external_id"),
        (8, "commune_code"),
        (9, "lon"),
        (10, "commune_code"),
        (11, "lat"),
    }
    assert found[(2, "lon")] == "'105,82,6' is not a number"
    assert "at most 360" in found[(3, "fov_deg")]
    assert found[(4, "commitment_valid_until")] == "2024-01-01 is before the signing date 2025-03-15"
    assert "'khác' is not one of: household, hộ gia đình" in found[(5, "owner_kind")]
    assert "write yyyy-mm-dd or dd/mm/yyyy" in found[(5, "commitment_signed_at")]
    assert found[(6, "lens_external_id")].startswith("lens 00235-L-0001 is already on row 2")
    assert (
        found[(7, "owner_external_id")]
        == "'00235-O-009' here, but '00235-O-001' for the same recorder 00235-R-001 on row 2"
    )
    assert found[(8, "commune_code")] == "no commune has code '99999'"
    assert found[(9, "lon")] == "(105.8345, 21.0365) lies outside Phường Đống Đa; it is in Phường Ba Đình"
    assert "Phường Trung Liệt (00217) is not a current commune" in found[(10, "commune_code")]
    assert "outside Vietnam's extent" in found[(11, "lat")]
    assert [error.row for error in report.errors] == sorted(error.row for error in report.errors)

    assert registry_size(session) == before
    assert session.scalar(select(func.count()).where(AuditEvent.action == "registry.import")) == 0


def test_a_missing_required_column_is_one_error_for_the_file(session, demo):
    rows = [{key: value for key, value in row.items() if key not in ("lat", "status")} for row in template_rows()]
    report = run(session, rows)
    assert [str(error) for error in report.errors] == [
        "row 1, column lat: required column is missing from the header",
        "row 1, column status: required column is missing from the header",
    ]


def test_reimport_changes_nothing(session, demo):
    run(session, template_rows())
    size = registry_size(session)
    again = run(session, template_rows())
    assert again.ok and counts(again) == UNCHANGED
    assert registry_size(session) == size


def test_changed_rows_update_in_place(session, demo):
    run(session, template_rows())
    rows = template_rows()
    household, business, dome, agency = rows
    household["owner_phone"] = "0987654321"
    household["bearing_deg"] = "135"
    # The business's dome moves to a second recorder of the same owner: an update, not a new lens.
    dome.update(recorder_external_id="00235-R-004", recorder_lon="", recorder_lat="", retention_days="7")
    report = run(session, rows)

    assert report.ok, report.errors
    assert counts(report) == {
        "sites": (0, 0, 2),
        "owners": (0, 1, 2),
        "recorders": (1, 0, 3),
        "lenses": (0, 2, 2),
        "commitments": (0, 0, 2),
    }
    session.expire_all()
    assert session.scalar(select(Owner.phone).where(Owner.external_id == "00235-O-001")) == "84987654321"
    assert lens(session, "00235-L-0001").bearing_deg == 135
    moved = lens(session, "00235-L-0003")
    assert moved.recorder.external_id == "00235-R-004" and moved.recorder.owner.external_id == "00235-O-002"
    assert session.scalar(select(func.count()).where(Lens.external_id.like("00235-L-%"))) == 4


def test_cameras_do_not_change_owner_by_import(session, demo):
    run(session, template_rows())
    household, business, dome, agency = template_rows()
    household["recorder_external_id"] = "00235-R-003"  # the agency's recorder, with the household as owner
    report = run(session, [household, agency])
    found = {(error.row, error.column): error.reason for error in report.errors}
    assert found[(2, "owner_external_id")] == (
        "recorder 00235-R-003 belongs to owner 00235-O-003; an import does not move recorders between owners"
    )

    agency["lens_external_id"] = "00235-L-0001"  # the household's lens, now on the agency's recorder
    report = run(session, [agency])
    assert [str(error) for error in report.errors] == [
        "row 2, column recorder_external_id: lens 00235-L-0001 is on recorder 00235-R-001 of owner 00235-O-001; "
        "an import moves a lens only between recorders of the same owner"
    ]


def test_dry_run_writes_nothing_but_reports_what_it_would_do(session, demo):
    before = registry_size(session)
    report = run(session, template_rows(), dry_run=True)
    assert report.ok and report.dry_run and counts(report) == TEMPLATE_COUNTS
    assert registry_size(session) == before
    [event] = session.scalars(select(AuditEvent).where(AuditEvent.action == "registry.import"))
    assert event.details["dry_run"] is True


def police_of(session, code: str) -> Actor:
    unit = commune(session, code)
    return Actor(
        label=f"commune_police:{code}",
        role=Role.COMMUNE_POLICE,
        unit_id=unit.id,
        readable_communes=frozenset({unit.id}),
        writable_communes=frozenset({unit.id}),
    )


def test_commune_police_import_only_their_own_commune(session, demo):
    before = registry_size(session)
    refused = run(session, template_rows(), actor=police_of(session, "00004"))
    assert {(error.row, error.column) for error in refused.errors} == {(row, "commune_code") for row in range(2, 6)}
    assert refused.errors[0].reason == "Phường Đống Đa is outside the communes you may change"
    assert registry_size(session) == before

    dong_da_police = police_of(session, "00235")
    assert run(session, template_rows(), actor=dong_da_police).ok
    # Nor may they take over an owner another commune registered.
    ba_dinh_owner = session.scalar(
        select(Owner).join(Owner.recorders).where(Recorder.commune_id == commune(session, "00004").id)
    )
    rows = template_rows()
    rows[0]["owner_external_id"] = ba_dinh_owner.external_id
    report = run(session, rows[:1], actor=dong_da_police)
    assert [str(error) for error in report.errors] == [
        f"row 2, column owner_external_id: owner {ba_dinh_owner.external_id} is registered in Phường Ba Đình, "
        "outside the communes you may change",
        "row 2, column owner_external_id: recorder 00235-R-001 belongs to owner 00235-O-001; "
        "an import does not move recorders between owners",
    ]


def test_same_signing_day_updates_validity_and_another_day_is_a_renewal(session, demo):
    run(session, template_rows())
    rows = template_rows()
    for row in rows[1:3]:
        row["commitment_valid_until"] = "2029-03-14"
    extended = run(session, rows)
    assert counts(extended)["commitments"] == (0, 1, 1)

    for row in rows[1:3]:
        row.update(commitment_signed_at="01/10/2025", commitment_valid_until="30/09/2030")
    renewed = run(session, rows)
    assert counts(renewed)["commitments"] == (1, 0, 1)
    history = session.execute(
        select(SharingCommitment.signed_at, SharingCommitment.valid_until)
        .join(Owner)
        .where(Owner.external_id == "00235-O-002")
        .order_by(SharingCommitment.signed_at)
    ).all()
    assert [(signed.date(), until.date()) for signed, until in history] == [
        (date(2025, 3, 14), date(2029, 3, 14)),
        (date(2025, 9, 30), date(2030, 9, 30)),
    ]


def test_a_site_of_another_commune_is_refused(session, demo):
    rows = template_rows()[:1]
    rows[0]["site_code"] = "00070-S1"
    report = run(session, rows)
    assert [str(error) for error in report.errors] == [
        "row 2, column site_code: site 00070-S1 belongs to Phường Hoàn Kiếm, not Phường Đống Đa"
    ]


def test_a_new_site_is_created_in_the_rows_commune(session, demo):
    rows = template_rows()[:1]
    rows[0].update(site_code="00235-S9", site_name="")
    report = run(session, rows)
    assert report.ok and counts(report)["sites"] == (1, 0, 0)
    site = session.scalar(select(Site).where(Site.code == "00235-S9"))
    assert site.name == "00235-S9" and site.commune_id == commune(session, "00235").id


def test_the_error_list_is_bounded(session, demo):
    row = template_rows()[0]
    rows = [{**row, "lens_external_id": f"L{n}", "fov_deg": "0"} for n in range(LISTED_ERRORS + 200)]
    report = run(session, rows)
    assert len(report.errors) == LISTED_ERRORS and report.errors_not_listed == 200
    assert report.error_count == LISTED_ERRORS + 200
    assert report.errors[0].row == 2 and report.errors[-1].row == LISTED_ERRORS + 1


@pytest.mark.parametrize(
    "filename,data,reason",
    [
        ("register.xls", b"\xd0\xcf\x11\xe0", "use .csv (UTF-8), .xlsx or .geojson"),
        ("register.xlsx", b"not a zip", "not an XLSX workbook"),
        ("register.csv", "commune_code\n00235\n".encode("utf-16"), "line 1 is not UTF-8 text"),
        ("register.geojson", b'{"type": "Feature"}', "FeatureCollection"),
        ("register.csv", b"commune_code,site_code\n" + b"x,y\n" * 200_001, "more than 200,000 rows"),  # IMPORT_MAX_ROWS
    ],
)
def test_unreadable_files_are_refused_as_a_whole(session, filename, data, reason):
    with pytest.raises(ValidationFailed) as refused:
        import_register(session, io.BytesIO(data), filename, actor=SYSTEM)
    assert reason in refused.value.errors["file"][0]


def test_cli_imports_and_exits_non_zero_on_errors(app, session, demo, tmp_path):
    session.commit()
    runner = app.test_cli_runner()
    dry = runner.invoke(args=["import", str(TEMPLATE), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "4 rows (dry run: nothing written)" in dry.output
    assert session.scalar(select(func.count()).where(Owner.external_id.like("00235-O-%"))) == 0

    done = runner.invoke(args=["import", str(TEMPLATE)])
    assert done.exit_code == 0, done.output
    assert "lenses       4        0        0" in done.output
    assert session.scalar(select(func.count()).where(Lens.external_id.like("00235-L-%"))) == 4

    rows = template_rows()
    rows[1]["fov_deg"] = "400"
    rows[2]["lat"] = ""
    bad = tmp_path / "bad.csv"
    bad.write_bytes(csv_bytes(rows))
    refused = runner.invoke(args=["import", str(bad)])
    assert refused.exit_code == 1
    assert "row 3, column fov_deg: field of view 400.0 must be above 0 and at most 360 degrees" in refused.output
    assert "row 4, column lat: is required" in refused.output
    assert "2 errors: nothing was imported" in refused.output

    unknown = tmp_path / "register.ods"
    unknown.write_bytes(b"")
    assert runner.invoke(args=["import", str(unknown)]).exit_code == 1
