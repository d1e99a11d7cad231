"""Headless Chromium: police open a request on the map, record answers, staff only read."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from conftest import SCREENSHOTS
from geoalchemy2.shape import to_shape
from sqlalchemy import select
from sqlalchemy.orm import Session

from camera_registry.db import make_engine
from camera_registry.models import AdminUnit, Lens, LensStatus
from camera_registry.timezones import LOCAL_ZONE

SHA = "0f" * 32


def point_in_front_of_a_lens(database_url: str) -> tuple[float, float]:
    """8 m along the bearing of an active lens of Phường Đống Đa."""
    engine = make_engine(database_url)
    with Session(engine) as session:
        lens = session.scalars(
            select(Lens)
            .join(AdminUnit, Lens.commune_id == AdminUnit.id)
            .where(AdminUnit.code == "00226", Lens.status == LensStatus.ACTIVE, Lens.bearing_deg.is_not(None))
            .order_by(Lens.id)
        ).first()
        point, bearing = to_shape(lens.point), math.radians(lens.bearing_deg)
    engine.dispose()
    return (
        point.x + 8 * math.sin(bearing) / (111_320 * math.cos(math.radians(point.y))),
        point.y + 8 * math.cos(bearing) / 110_574,
    )


def sign_in(page, live_server, username):
    page.goto(f"{live_server.url}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", live_server.password)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")


def click_map_at(page, lon: float, lat: float):
    x, y = page.evaluate(
        "([lat, lon]) => { const el = document.getElementById('incident-map');"
        " const p = el.leafletMap.latLngToContainerPoint([lat, lon]); const box = el.getBoundingClientRect();"
        " return [box.left + p.x, box.top + p.y]; }",
        [lat, lon],
    )
    page.mouse.click(x, y)


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

    page.wait_for_function("document.getElementById('incident-map').leafletMap !== undefined")
    click_map_at(page, lon, lat)
    assert '"Point"' in page.input_value("#incident")
    page.click("main button[type=submit]")
    page.wait_for_url(f"{live_server.url}/requests/*")
    assert page.inner_text("#request-status") == "routed"
    rows = page.locator("#assignments tbody tr[data-assignment]")
    assert rows.count() >= 1
    assert page.locator(".routed-lens").count() >= 1
    assert page.locator("#assignments a[href^='tel:']").count() >= 1  # police see the phone to call
    page.screenshot(path=str(SCREENSHOTS / f"request-{backend}.png"), full_page=True)

    first = rows.first
    with page.expect_navigation():
        first.locator("button[value=consent]").click()
    assert page.locator("#assignments tbody tr[data-assignment]").first.locator(".status").inner_text() == "consented"
    assert page.inner_text("#request-status") == "in_progress"
    first_id = page.locator("#assignments tbody tr[data-assignment]").first.get_attribute("data-assignment")
    receive_an_officers_copy(
        page, f"#assignments tr[data-assignment='{first_id}']", small_clip(tmp_path), "VC-117/2026"
    )
    assert "footage_received" in page.locator("#assignments tbody tr[data-assignment]").first.inner_text()
    request_url = page.url

    page.goto(f"{live_server.url}/requests")
    assert page.locator("#requests a", has_text="VV-2026-117").count() == 1

    # Staff of the province read it without any action; police of another commune do not see it.
    page.click("header button:has-text('Đăng xuất')")
    sign_in(page, live_server, "staff.hanoi")
    page.goto(request_url)
    assert page.inner_text("#request-status") in ("in_progress", "resolved")
    assert page.locator("#assignments form").count() == 0 and page.locator("#cancel-request").count() == 0
    page.click("header button:has-text('Đăng xuất')")
    sign_in(page, live_server, "police.chidam")
    assert page.goto(request_url).status == 404
    assert page.foreign_requests == []


def receive_an_officers_copy(page, row_selector: str, clip_path, evidence_ref: str) -> None:
    """An officer who copied the footage on site uploads it to the assignment, then marks it received: the
    hash is the stored upload's, never typed."""
    row = page.locator(row_selector)
    row.locator(".police-upload input[type=file]").set_input_files(str(clip_path))
    row.locator(".police-upload input[name=clock_correct]").check()
    with page.expect_navigation(timeout=60_000):
        row.locator(".police-upload .upload-start").click()
    row = page.locator(row_selector)
    assert row.locator(".clip").count() == 1 and row.locator("select[name=clip_id] option").count() == 1
    row.locator("input[name=evidence_ref]").fill(evidence_ref)
    with page.expect_navigation():
        row.locator("button[value=receive_footage]").click()


def small_clip(directory):
    path = directory / "ban-sao.mp4"
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + bytes(range(256)) * 400)
    return path
