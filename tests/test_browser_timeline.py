"""Headless Chromium, in Vietnamese and in English: the police land on their requests and read a request's history
(routing, the owner opening the link, with who and when, never the link's token); staff land on the map, open the
figures page, pick last month, read each commune's coverage and download the XLSX, whose sheet is named for the
month and whose levels and coverage headers are Vietnamese (English in en)."""

from __future__ import annotations

import io
from datetime import timedelta

import openpyxl
import pytest
from browser_support import owner_link_on, sign_in
from conftest import SCREENSHOTS
from sqlalchemy import select
from sqlalchemy.orm import Session

from camera_registry.db import make_engine
from camera_registry.models import FootageRequest
from camera_registry.timezones import local_today

WORDS = {
    "vi": {"routed": "Gửi yêu cầu đến chủ camera", "viewed": "Chủ camera đã mở đường link", "owner": "qua đường link"},
    "en": {"routed": "Sent to the camera owners", "viewed": "Owner opened the link", "owner": "through their link"},
}
SHEET = {"vi": ("Số liệu", "Xã/Phường", "Tháng trước"), "en": ("Figures", "Commune/Ward", "Last month")}
#: The coverage columns' headers: the area seen by active lenses, and the road length.
COVERAGE = {
    "vi": ("Tỷ lệ diện tích mắt camera đang hoạt động quan sát được", "Chiều dài đường (km)"),
    "en": ("Share of the area seen by active lenses", "Road length (km)"),
}


def _latest_request_id(database_url: str) -> int:
    engine = make_engine(database_url)
    with Session(engine) as session:
        request_id = session.scalar(select(FootageRequest.id).order_by(FootageRequest.id.desc()))
    engine.dispose()
    return request_id


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_the_police_read_a_requests_history(page, live_server, backend, lang):
    token = owner_link_on(live_server)
    request_id = _latest_request_id(live_server.database_url)
    page.goto(f"{live_server.url}/o/{token}?lang={lang}")  # the owner opens the link: the history says so
    page.context.clear_cookies()

    sign_in(page, live_server, live_server.username)
    assert page.url == f"{live_server.url}/requests"  # police land on their requests
    page.goto(f"{live_server.url}/requests/{request_id}?lang={lang}")
    timeline = page.locator("#timeline")
    timeline.scroll_into_view_if_needed()
    text = timeline.inner_text()
    words = WORDS[lang]
    assert words["routed"] in text and words["viewed"] in text and words["owner"] in text
    kinds = page.eval_on_selector_all("#timeline tr[data-kind]", "rows => rows.map(row => row.dataset.kind)")
    assert kinds.index("request.route") < kinds.index("assignment.view")
    assert page.locator("#timeline time").first.inner_text().count("/") == 2  # dd/mm/yyyy, Vietnam time
    assert token not in page.content() and "/o/" not in timeline.inner_html()
    page.screenshot(path=str(SCREENSHOTS / f"request-timeline-{lang}-{backend}.png"), full_page=True)
    assert page.foreign_requests == []


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_staff_download_last_months_figures_as_xlsx(page, live_server, backend, lang):
    sign_in(page, live_server, "staff.hanoi")
    assert page.url == f"{live_server.url}/map"  # staff land on the map
    page.goto(f"{live_server.url}/figures?lang={lang}")
    title, commune_level, last_month = SHEET[lang]
    page.click(f".presets a:has-text('{last_month}')")
    page.wait_for_selector("#figures tr[data-unit]")
    assert page.locator("#figures tbody tr").first.locator("td").nth(2).inner_text() == commune_level
    seen, road = COVERAGE[lang]
    headers = page.locator("#figures thead th").all_inner_texts()
    assert seen in headers and road in headers
    share = page.locator("#figures tbody tr").first.locator("td").nth(headers.index(seen)).inner_text()
    assert share.endswith("%")  # a commune's share of its area seen, as a percentage
    with page.expect_download() as download:
        page.click("#download-xlsx")
    workbook = openpyxl.load_workbook(io.BytesIO(download.value.path().read_bytes()))
    month = (local_today().replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    assert workbook.sheetnames == [f"{title} {month}"]
    levels = {row[2].value for row in workbook.active.iter_rows(min_row=2)}
    assert levels == {commune_level}
    assert {seen, road} <= {cell.value for cell in workbook.active[1]}
    page.screenshot(path=str(SCREENSHOTS / f"figures-{lang}-{backend}.png"), full_page=True)
    assert page.foreign_requests == []
