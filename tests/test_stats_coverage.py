"""Coverage in the figures: per commune what services/commune_coverage.py gives, rolled up weighted by area and road
length, road figures empty without a road layer, the columns in the CSV and XLSX downloads with their headers in
both languages, and a unit whose coverage waits for the refresh said to be so in the JSON and on the page."""

from __future__ import annotations

import csv
import io
import json
import statistics
from datetime import datetime

import openpyxl
import pytest
from registry_support import admin_unit
from sqlalchemy import select
from test_commune_coverage import T_BOX, add_lens, make_town, road_file, some_lenses

from camera_registry.models import AdminLevel, AdminUnit
from camera_registry.models.base import utcnow
from camera_registry.services import commune_figures, stats
from camera_registry.services.access import SYSTEM
from camera_registry.services.commune_coverage import coverage_figures, refresh_coverage
from camera_registry.services.roads import load_roads

STATS = "/api/v1/stats/admin-units"
COVERAGE_FIELDS = ("seen_share", "shared_seen_share", "road_km", "road_seen_share", "road_shared_seen_share")
#: A commune east of T, twice T's width and with no lens nor road: it weighs twice as much in the roll-up.
U_BOX = (T_BOX[2], T_BOX[1], T_BOX[2] + 2 * (T_BOX[2] - T_BOX[0]), T_BOX[3])
HEADERS = {
    "vi": [
        "Tỷ lệ diện tích mắt camera đang hoạt động quan sát được",
        "Tỷ lệ diện tích mắt camera hoạt động có cam kết chia sẻ quan sát được",
        "Chiều dài đường (km)",
        "Tỷ lệ chiều dài đường mắt camera đang hoạt động quan sát được",
        "Tỷ lệ chiều dài đường mắt camera hoạt động có cam kết chia sẻ quan sát được",
        "Độ phủ đang chờ cập nhật",
        "Thời điểm tính độ phủ (giờ Việt Nam)",
    ],
    "en": [
        "Share of the area seen by active lenses",
        "Share of the area seen by active lenses under a sharing commitment",
        "Road length (km)",
        "Share of the road length seen by active lenses",
        "Share of the road length seen by active lenses under a sharing commitment",
        "Coverage awaiting refresh",
        "Coverage computed at (Vietnam time)",
    ],
}


@pytest.fixture()
def town(session):
    """test_commune_coverage's communes S and T with their lenses, and U beside them, all under province CP."""
    town = make_town(session)
    session.add(admin_unit("CU", "Xã U", parent=town.s.parent, bounds=U_BOX))
    some_lenses(session, town)
    session.commit()
    return town


def refresh_all(session) -> None:
    """What the scheduler's refreshes leave: every commune's figures recounted and its coverage stored."""
    commune_figures.refresh(session, utcnow())
    refresh_coverage(session, utcnow())  # the marks handed on, and every commune never computed
    session.commit()


def _rows(report) -> dict[str, stats.Tally]:
    return {row.code: row.figures for row in report.rows}


def test_each_communes_coverage_is_its_coverage_figures_and_a_roll_up_weighs_by_area_and_road_length(session, town):
    load_roads(session, road_file(), "test extract", utcnow())
    session.commit()
    now = utcnow()
    communes = _rows(stats.unit_figures(session, SYSTEM, parent_code="CP", now=now))
    assert sorted(communes) == ["CS", "CT", "CU"]
    ids = {code: session.scalar(select(AdminUnit.id).where(AdminUnit.code == code)) for code in communes}
    expected = coverage_figures(session, ids.values(), now)
    for code, tally in communes.items():
        figures = expected[ids[code]]
        for name in ("seen_share", "shared_seen_share", "road_km", "road_seen_share", "road_shared_seen_share"):
            assert getattr(tally, name) == pytest.approx(getattr(figures, name)), (code, name)
        assert (tally.coverage_stale, tally.coverage_computed_at) == (figures.stale, figures.computed_at)
    assert communes["CU"].seen_share == 0 and communes["CU"].road_km is None
    assert communes["CU"].road_seen_share is None  # no road crosses U: empty, not 0 %
    assert communes["CS"].seen_share > communes["CS"].shared_seen_share > 0

    [province] = stats.unit_figures(session, SYSTEM, level=AdminLevel.PROVINCE, parent_code="CP", now=now).rows
    area = sum(figures.area_km2 for figures in expected.values())
    roads = sum(figures.road_km for figures in expected.values() if figures.road_km)
    assert province.figures.seen_share == pytest.approx(sum(f.seen_km2 for f in expected.values()) / area)
    assert province.figures.shared_seen_share == pytest.approx(sum(f.shared_seen_km2 for f in expected.values()) / area)
    assert province.figures.road_km == pytest.approx(roads)
    assert province.figures.road_seen_share == pytest.approx(
        sum(f.road_seen_km for f in expected.values() if f.road_km) / roads
    )
    assert province.figures.road_shared_seen_share == pytest.approx(
        sum(f.road_shared_seen_km for f in expected.values() if f.road_km) / roads
    )
    average = statistics.mean(tally.seen_share for tally in communes.values())
    assert province.figures.seen_share == pytest.approx(average * 3 / 4, rel=0.01)  # U counts twice: not the mean
    assert province.figures.coverage_computed_at == min(f.computed_at for f in expected.values())


def _json_rows(client, world, query: str = "parent=CP") -> dict[str, dict]:
    body = client.get(f"{STATS}?{query}", headers=world.headers["admin"]).get_json()
    return {row["code"]: row for row in body["rows"]}


def test_road_figures_are_empty_without_roads_and_filled_after_roads_load(app, client, world, session, town, tmp_path):
    before = _json_rows(client, world)
    assert all(before[code][name] is None for code in before for name in COVERAGE_FIELDS[2:])
    assert before["CS"]["seen_share"] > 0 and before["CS"]["coverage_stale"] is False
    path = tmp_path / "roads.geojson"
    path.write_text(json.dumps(road_file()), encoding="utf-8")
    runner = app.test_cli_runner()
    assert runner.invoke(args=["roads", "load", str(path)]).exit_code == 0
    commune_figures.refresh(session, utcnow())  # the scheduler's recount, which hands the lenses' marks on
    session.commit()
    assert runner.invoke(args=["coverage", "refresh"]).exit_code == 0
    after = _json_rows(client, world)
    stored = coverage_figures(session, [town.s.id, town.t.id], utcnow())
    for code, commune in (("CS", town.s), ("CT", town.t)):
        assert after[code]["road_km"] == pytest.approx(stored[commune.id].road_km)
        assert after[code]["road_seen_share"] == pytest.approx(stored[commune.id].road_seen_share)
        assert after[code]["road_shared_seen_share"] == pytest.approx(stored[commune.id].road_shared_seen_share)
        assert after[code]["coverage_stale"] is False
    assert after["CU"]["road_km"] is None and after["CU"]["road_seen_share"] is None
    assert datetime.fromisoformat(after["CS"]["coverage_computed_at"]).tzinfo is not None

    # The map's communes carry the same fields (MapCommuneSchema inherits the figures' schema).
    view = client.get("/api/v1/map/communes?bbox=105.899,21.099,105.913,21.103&zoom=15", headers=world.headers["admin"])
    mapped = {feature["properties"]["code"]: feature["properties"] for feature in view.get_json()["features"]}
    for name in (*COVERAGE_FIELDS, "coverage_stale", "coverage_computed_at"):
        assert mapped["CS"][name] == after["CS"][name], name


def test_csv_and_xlsx_carry_the_coverage_columns_with_translated_headers(client, world, session, town):
    refresh_all(session)  # stored: each download below reads the same moment
    rows = _json_rows(client, world)
    [province] = _json_rows(client, world, "parent=CP&level=province").values()
    for lang, headers in HEADERS.items():
        answer = client.get(f"{STATS}?parent=CP&format=csv&lang={lang}", headers=world.headers["admin"])
        table = list(csv.reader(io.StringIO(answer.get_data(as_text=True).lstrip("\ufeff"))))
        assert table[0][-len(headers) :] == headers
        cells = dict(zip(table[0], next(row for row in table[1:] if row[0] == "CS")))
        assert float(cells[headers[0]]) == pytest.approx(rows["CS"]["seen_share"])
        assert cells[headers[2]] == "" and cells[headers[5]] == "false"  # no roads loaded: empty, not 0
        computed = datetime.fromisoformat(cells[headers[6]])
        assert computed.utcoffset().total_seconds() == 7 * 3600
        assert computed == datetime.fromisoformat(rows["CS"]["coverage_computed_at"]).replace(microsecond=0)

        workbook = client.get(
            f"{STATS}?level=province&parent=CP&format=xlsx&lang={lang}", headers=world.headers["admin"]
        )
        sheet = openpyxl.load_workbook(io.BytesIO(workbook.data)).active
        header = [cell.value for cell in sheet[1]]
        assert header[-len(headers) :] == headers
        row = dict(zip(header, sheet[2]))
        assert row[headers[0]].value == pytest.approx(province["seen_share"]) and province["seen_share"] > 0
        assert all("%" in row[headers[i]].number_format for i in (0, 1))
        assert row[headers[2]].value is None and row[headers[3]].value is None
        assert row[headers[5]].value is False
        assert isinstance(row[headers[6]].value, datetime) and "hh:mm" in row[headers[6]].number_format


def test_a_write_before_the_refresh_marks_the_coverage_stale_in_the_json_and_on_the_page(client, world, session, town):
    refresh_all(session)
    assert not any(row["coverage_stale"] for row in _json_rows(client, world).values())
    page = client.get("/figures?parent=CP&lang=vi", headers=world.headers["admin"]).get_data(as_text=True)
    assert "coverage-stale" not in page

    add_lens(session, town, "new", "s", 105.9015, 21.1005, 45.0)
    session.commit()
    rows = _json_rows(client, world)
    assert rows["CS"]["coverage_stale"] and rows["CT"]["coverage_stale"]  # T lies within a lens's range of S
    [province] = _json_rows(client, world, "parent=CP&level=province").values()
    assert province["coverage_stale"] is True
    for lang, note in (
        ("vi", "Một thay đổi gần đây đang chờ lần cập nhật độ phủ tiếp theo"),
        ("en", "A recent change waits for the next coverage refresh"),
    ):
        page = client.get(f"/figures?parent=CP&lang={lang}", headers=world.headers["admin"]).get_data(as_text=True)
        assert note in page and 'id="coverage-stale-note"' in page
        stale_row = page.split('data-unit="CS"')[1].split("</tr>")[0]
        assert stale_row.count("coverage-stale") == len(COVERAGE_FIELDS)
        assert HEADERS[lang][0] in page and HEADERS[lang][2] in page

    refresh_all(session)
    assert not any(row["coverage_stale"] for row in _json_rows(client, world).values())
