"""The figures page for staff and its downloads: the table of their reach over a period, CSV and XLSX that keep
the page's filters, the workbook's sheet named for what it holds and its levels in Vietnamese (English in en)."""

from __future__ import annotations

import io

import openpyxl

XLSX = "/api/v1/stats/admin-units?format=xlsx"


def _workbook(client, world, query: str, role: str = "admin"):
    answer = client.get(f"{XLSX}&{query}", headers=world.headers[role])
    assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
    return openpyxl.load_workbook(io.BytesIO(answer.data))


def test_the_xlsx_sheet_is_named_for_its_period_and_its_levels_are_vietnamese(client, world):
    month = _workbook(client, world, "level=province&from=2026-11-01&to=2026-12-01")
    assert month.sheetnames == ["Số liệu 2026-11"]
    sheet = month.active
    header = [cell.value for cell in sheet[1]]
    assert header[:3] == ["Mã đơn vị", "Tên đơn vị", "Cấp"]
    assert sheet.cell(2, 3).value == "Tỉnh/Thành phố"

    days = _workbook(client, world, "level=district&from=2026-11-03&to=2026-11-10")
    assert days.sheetnames == ["Số liệu 2026-11-03..2026-11-09"]
    assert [row[2].value for row in days.active.iter_rows(min_row=2)] == ["Quận/Huyện (lịch sử)"]
    communes = _workbook(client, world, "from=2026-11-03&to=2026-11-10").active
    assert {row[2].value for row in communes.iter_rows(min_row=2)} == {"Xã/Phường"}


def test_the_xlsx_speaks_english_when_asked_and_the_csv_keeps_the_level_codes(client, world):
    english = _workbook(client, world, "level=province&from=2026-11-01&to=2026-12-01&lang=en")
    assert english.sheetnames == ["Figures 2026-11"]
    assert [cell.value for cell in english.active[1]][:3] == ["Unit code", "Unit name", "Level"]
    assert english.active.cell(2, 3).value == "Province/City"
    assert all(len(name) <= 31 for name in english.sheetnames)

    csv_answer = client.get("/api/v1/stats/admin-units?format=csv&level=province", headers=world.headers["admin"])
    assert csv_answer.get_data(as_text=True).lstrip("\ufeff").splitlines()[1].startswith("P,Tỉnh Thử,province,")
