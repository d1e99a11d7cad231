"""The figures page for staff and its downloads: the table of their reach over a period, CSV and XLSX that keep
the page's filters, the workbook's sheet named for what it holds and its levels in Vietnamese (English in en)."""

from __future__ import annotations

import csv
import io
import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import openpyxl

XLSX = "/api/v1/stats/admin-units?format=xlsx"


def _workbook(client, world, query: str, role: str = "admin", accept_language: str = "en"):
    """The workbook in the API's language: `?lang`, else Accept-Language, else English."""
    answer = client.get(f"{XLSX}&{query}", headers={**world.headers[role], "Accept-Language": accept_language})
    assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
    return openpyxl.load_workbook(io.BytesIO(answer.data))


def test_the_xlsx_sheet_is_named_for_its_period_and_its_levels_are_vietnamese(client, world):
    month = _workbook(client, world, "level=province&from=2026-11-01&to=2026-12-01&lang=vi")
    assert month.sheetnames == ["Số liệu 2026-11"]
    sheet = month.active
    header = [cell.value for cell in sheet[1]]
    assert header[:3] == ["Mã đơn vị", "Tên đơn vị", "Cấp"]
    assert sheet.cell(2, 3).value == "Tỉnh/Thành phố"

    days = _workbook(client, world, "level=district&from=2026-11-03&to=2026-11-10&lang=vi")
    assert days.sheetnames == ["Số liệu 2026-11-03..2026-11-09"]
    assert [row[2].value for row in days.active.iter_rows(min_row=2)] == ["Quận/Huyện (lịch sử)"]
    communes = _workbook(client, world, "from=2026-11-03&to=2026-11-10", accept_language="vi").active
    assert {row[2].value for row in communes.iter_rows(min_row=2)} == {"Xã/Phường"}


def test_the_xlsx_speaks_english_when_asked_and_the_csv_keeps_the_level_codes(client, world):
    english = _workbook(client, world, "level=province&from=2026-11-01&to=2026-12-01&lang=en")
    assert english.sheetnames == ["Figures 2026-11"]
    assert [cell.value for cell in english.active[1]][:3] == ["Unit code", "Unit name", "Level"]
    assert english.active.cell(2, 3).value == "Province/City"
    assert all(len(name) <= 31 for name in english.sheetnames)

    csv_answer = client.get("/api/v1/stats/admin-units?format=csv&level=province", headers=world.headers["admin"])
    assert csv_answer.get_data(as_text=True).lstrip("\ufeff").splitlines()[1].startswith("P,Tỉnh Thử,province,")


def test_the_figures_page_shows_the_readers_reach_with_levels_and_keeps_the_filters_in_its_downloads(client, world):
    page = client.get("/figures?from=2026-11-01&to=2026-12-01", headers=world.headers["district_staff"])
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'data-unit="A"' in html and 'data-unit="B"' not in html  # commune B is outside the district
    assert "<td>Xã/Phường</td>" in html and "Tỷ lệ chia sẻ" in html and "01/11/2026" in html and "30/11/2026" in html
    links = dict(re.findall(r'id="download-(csv|xlsx)" href="([^"]+)"', html))
    for kind, link in links.items():
        query = parse_qs(urlsplit(unescape(link)).query)
        assert query["from"] == ["2026-11-01"] and query["to"] == ["2026-12-01"] and query["format"] == [kind]
    csv_answer = client.get(unescape(links["csv"]), headers=world.headers["district_staff"])
    rows = list(csv.reader(io.StringIO(csv_answer.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:3] == ["Mã đơn vị", "Tên đơn vị", "Cấp"] and [row[0] for row in rows[1:]] == ["A"]
    workbook = openpyxl.load_workbook(
        io.BytesIO(client.get(unescape(links["xlsx"]), headers=world.headers["admin"]).data)
    )
    assert workbook.sheetnames == ["Số liệu 2026-11"]

    provinces = client.get("/figures?level=province&lang=en", headers=world.headers["admin"]).get_data(as_text=True)
    assert "<td>Province/City</td>" in provinces and "Sharing rate" in provinces and "Download XLSX" in provinces
    assert "This month" in provinces and "Last 30 days" in provinces


def test_the_figures_page_names_the_field_it_cannot_read_and_needs_a_sign_in(client, world):
    bad_date = client.get("/figures?from=yesterday", headers=world.headers["province_staff"])
    assert bad_date.status_code == 422 and "Từ ngày: " in bad_date.get_data(as_text=True)  # the field's label
    backwards = client.get("/figures?from=2026-11-10&to=2026-11-01", headers=world.headers["province_staff"])
    assert backwards.status_code == 422 and "Đến trước ngày: " in backwards.get_data(as_text=True)
    assert client.get("/figures?level=province&parent=nowhere", headers=world.headers["admin"]).status_code == 404
    assert client.get("/figures").status_code == 302
