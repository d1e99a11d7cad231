"""Headless Chromium: commune police find the place of a new request by an accent-less street name and by pasted
coordinates, see their commune's lenses on the map, and open requests there."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from browser_support import point_in_front_of_a_lens, sign_in
from conftest import SCREENSHOTS
from geoalchemy2.shape import to_shape
from playwright.sync_api import expect
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from camera_registry.db import make_engine
from camera_registry.models import AdminUnit, Lens, LensStatus, Owner, Recorder, RecorderStatus
from camera_registry.timezones import LOCAL_ZONE


def _active_lenses_of_dong_da(database_url: str) -> int:
    engine = make_engine(database_url)
    with Session(engine) as session:
        count = session.scalar(
            select(func.count())
            .select_from(Lens)
            .join(Recorder, Lens.recorder_id == Recorder.id)
            .join(AdminUnit, Lens.commune_id == AdminUnit.id)
            .where(
                AdminUnit.code == "00235",
                Lens.status == LensStatus.ACTIVE,
                Recorder.status == RecorderStatus.ACTIVE,
            )
        )
    engine.dispose()
    return count


def _first_recorder_of_address(database_url: str, address: str) -> tuple[float, float]:
    engine = make_engine(database_url)
    with Session(engine) as session:
        recorder = session.scalars(
            select(Recorder).join(Owner).where(Owner.address == address).order_by(Recorder.id)
        ).first()
        point = to_shape(recorder.point)
    engine.dispose()
    return point.x, point.y


def _dms(value: float, positive: str, negative: str) -> str:
    """21°00'47.52"N, as Google Maps shows a dropped pin."""
    hemisphere, value = (positive, value) if value >= 0 else (negative, -value)
    degrees, rest = divmod(value * 3600, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{int(degrees)}°{int(minutes):02d}'{seconds:05.2f}\"{hemisphere}"


def _describe_incident(page, case_ref: str) -> None:
    now = datetime.now(LOCAL_ZONE)
    page.fill("#case_ref", case_ref)
    page.fill("#reason", "Cướp giật điện thoại")
    page.fill("#legal_basis", "Điều 145 Bộ luật Tố tụng hình sự 2015")
    page.fill("#window_start", (now - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M"))
    page.fill("#window_end", (now - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"))


def _incident(page) -> dict:
    return json.loads(page.input_value("#incident"))


def _send_and_read_the_incident(page, live_server) -> dict:
    page.click("main button[type=submit]")
    page.wait_for_url(f"{live_server.url}/requests/*")
    return json.loads(page.get_attribute("#request-map", "data-features"))["incident"]


def test_police_find_the_place_by_street_and_by_pasted_coordinates(page, live_server, backend):
    sign_in(page, live_server, live_server.username)
    page.goto(f"{live_server.url}/requests/new")

    # The commune's active lenses are drawn with their fields of view before anything is placed.
    page.wait_for_selector("#incident-map[data-lenses-drawn]")  # selectors, not wait_for_function: CSP bars eval
    drawn = int(page.get_attribute("#incident-map", "data-lenses-drawn"))
    assert drawn > 0 and drawn == _active_lenses_of_dong_da(live_server.database_url)
    assert str(drawn) in page.inner_text("#reach-lenses")

    # An accent-less street name finds the commune's addresses; the keyboard picks one, Enter sends nothing.
    _describe_incident(page, "VV-2026-301")
    page.click("#place-search")
    page.keyboard.type("tay son")
    page.wait_for_selector("#place-results li[data-kind=address]")
    kinds = page.eval_on_selector_all("#place-results li", "items => items.map(item => item.dataset.kind)")
    for _ in range(kinds.index("address") + 1):
        page.keyboard.press("ArrowDown")
    address = page.inner_text("#place-results li.active span")
    assert "Tây Sơn" in address
    page.keyboard.press("Enter")
    assert page.url == f"{live_server.url}/requests/new"
    assert page.is_hidden("#place-results") and page.input_value("#place-search") == address
    where = _first_recorder_of_address(live_server.database_url, address)
    assert _incident(page) == {"type": "Point", "coordinates": [pytest.approx(where[0]), pytest.approx(where[1])]}
    page.screenshot(path=str(SCREENSHOTS / f"place-search-{backend}.png"), full_page=True)
    incident = _send_and_read_the_incident(page, live_server)
    assert incident["coordinates"] == [pytest.approx(where[0]), pytest.approx(where[1])]

    # Coordinates pasted as Google Maps shows a pin go straight to the point, and the request is opened there.
    lon, lat = point_in_front_of_a_lens(live_server.database_url)
    page.goto(f"{live_server.url}/requests/new")
    _describe_incident(page, "VV-2026-302")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    for text, problem in (("95.5, 105.8", "Vĩ độ 95.5"), (f"{_dms(lat, 'N', 'S')} {_dms(lon, 'E', 'W')}", None)):
        page.evaluate("text => navigator.clipboard.writeText(text)", text)
        page.fill("#place-search", "")
        page.focus("#place-search")
        page.keyboard.press("Control+V")
        if problem:
            page.wait_for_selector("#place-problem:visible")
            assert problem in page.inner_text("#place-problem") and page.input_value("#incident") == ""
    expect(page.locator("#incident")).not_to_have_value("")
    assert page.is_hidden("#place-problem")
    placed = _incident(page)["coordinates"]
    assert placed == [pytest.approx(lon, abs=1e-5), pytest.approx(lat, abs=1e-5)]
    incident = _send_and_read_the_incident(page, live_server)
    assert incident["coordinates"] == [pytest.approx(placed[0]), pytest.approx(placed[1])]
    assert page.locator(".routed-lens").count() >= 1  # in front of a lens: the request reached its owner
    assert page.foreign_requests == []
