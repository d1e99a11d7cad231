"""Headless Chromium: police open a request on the map, record answers, staff only read."""

from __future__ import annotations

from datetime import datetime, timedelta

from browser_support import (
    click_map_at,
    point_in_front_of_a_lens,
    receive_an_officers_copy,
    sign_in,
    small_clip,
    wait_until,
)
from conftest import SCREENSHOTS

from camera_registry.timezones import LOCAL_ZONE


def test_police_open_a_request_on_the_map_and_follow_it(page, live_server, backend, tmp_path):
    lon, lat = point_in_front_of_a_lens(live_server.database_url)
    sign_in(page, live_server, live_server.username)
    page.click("header a:has-text('Yêu cầu trích xuất')")
    page.click("text=Tạo yêu cầu mới")

    now = datetime.now(LOCAL_ZONE)
    page.fill("#case_ref", "VV-2026-117")
    page.fill("#reason", "Trộm cắp xe máy trước cửa hàng")
    page.fill("#legal_basis", "Điều 145 Bộ luật Tố tụng hình sự 2015")
    page.fill("#window_start", (now - timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M"))
    page.fill("#window_end", (now - timedelta(hours=4)).strftime("%Y-%m-%dT%H:%M"))
    page.click("main button[type=submit]")  # nothing drawn yet: refused, form kept
    page.wait_for_selector("[data-error=incident]")
    assert page.input_value("#case_ref") == "VV-2026-117"

    wait_until(page, "document.getElementById('incident-map').leafletMap !== undefined")
    click_map_at(page, lon, lat)
    assert '"Point"' in page.input_value("#incident")
    page.click("main button[type=submit]")
    page.wait_for_url(f"{live_server.url}/requests/*")
    assert page.get_attribute("#request-status", "data-status") == "routed"
    assert page.inner_text("#request-status") == "Đã gửi chủ camera"
    rows = page.locator("#assignments tbody tr[data-assignment]")
    assert rows.count() >= 1
    assert page.locator(".routed-lens").count() >= 1
    assert page.locator("#assignments a[href^='tel:']").count() >= 1  # police see the phone to call
    page.screenshot(path=str(SCREENSHOTS / f"request-{backend}.png"), full_page=True)

    first = rows.first
    with page.expect_navigation():
        first.locator("button[value=consent]").click()
    first_status = page.locator("#assignments tbody tr[data-assignment]").first.locator(".status")
    assert first_status.get_attribute("data-status") == "consented"
    assert first_status.locator(".status-words").inner_text() == "Đồng ý cung cấp"
    assert page.get_attribute("#request-status", "data-status") == "in_progress"
    first_id = page.locator("#assignments tbody tr[data-assignment]").first.get_attribute("data-assignment")
    receive_an_officers_copy(
        page, f"#assignments tr[data-assignment='{first_id}']", small_clip(tmp_path), "VC-117/2026"
    )
    first_status = page.locator("#assignments tbody tr[data-assignment]").first.locator(".status")
    assert first_status.get_attribute("data-status") == "footage_received"
    assert "Đã nhận dữ liệu" in first_status.inner_text()
    request_url = page.url

    page.goto(f"{live_server.url}/requests")
    assert page.locator("#requests a", has_text="VV-2026-117").count() == 1

    # Staff of the province read it without any action; police of another commune do not see it.
    page.click("header button:has-text('Đăng xuất')")
    sign_in(page, live_server, "staff.hanoi")
    page.goto(request_url)
    assert page.get_attribute("#request-status", "data-status") in ("in_progress", "resolved")
    assert page.locator("#assignments form").count() == 0 and page.locator("#cancel-request").count() == 0
    page.click("header button:has-text('Đăng xuất')")
    sign_in(page, live_server, "police.chidam")
    assert page.goto(request_url).status == 404
    assert page.foreign_requests == []
