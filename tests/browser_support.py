"""For the headless Chromium tests: the live server's sample seen through the pages, and moves on them.

Every helper drives the real pages or the services on the live server's own database (tests/conftest.py's
`live_server`); nothing of our own code is mocked.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime, timedelta

from clip_support import MP4_HEAD
from geoalchemy2.shape import to_shape
from owner_support import assignment_link, police_actor
from playwright.sync_api import Error as PlaywrightError
from shapely import Point
from sqlalchemy import select
from sqlalchemy.orm import Session

from camera_registry.db import make_engine
from camera_registry.models import AdminUnit, Lens, LensStatus
from camera_registry.services import accounts, requests
from camera_registry.services.access import SYSTEM

PHONE = {"width": 360, "height": 740}
#: The duty phone `owner_link_on` gives Phường Đống Đa's police, which the owner's page must show.
DUTY_PHONE = "024 3851 0000"

# A point inside the first shape matching a selector that nothing else covers (a cluster over a commune,
# a neighbour's wedge over a lens), so a real click lands on that shape.
FREE_POINT_IN = """selector => {
  for (const path of document.querySelectorAll(selector)) {
    const box = path.getBoundingClientRect();
    for (let i = 1; i < 10; i++) for (let j = 1; j < 10; j++) {
      const x = box.left + box.width * i / 10, y = box.top + box.height * j / 10;
      if (document.elementFromPoint(x, y) === path) return [x, y];
    }
  }
  return null;
}"""


def wait_until(page, expression: str, arg=None, timeout: float = 30) -> None:
    """Poll `expression` (or a function of `arg`) in the page until it is truthy.

    Not wait_for_function: that compiles its predicate with eval inside the page, which our pages' CSP forbids, so it
    fails whenever a poll lands on a fresh document (after a language switch, say). page.evaluate goes through the
    DevTools protocol and needs no eval; a poll that meets a document still being replaced is simply tried again.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            if page.evaluate(expression, arg):
                return
        except PlaywrightError as error:
            if "context was destroyed" not in str(error) and "navigat" not in str(error):
                raise
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {expression}"
        page.wait_for_timeout(100)


def wait_for_language(page, language: str) -> None:
    """Wait until the page shown is in `language` (a selector: Playwright matches it without eval)."""
    page.wait_for_selector(f"html[lang={language}]", state="attached")


def point_in_front_of_a_lens(database_url: str) -> tuple[float, float]:
    """8 m along the bearing of an active lens of Phường Đống Đa."""
    engine = make_engine(database_url)
    with Session(engine) as session:
        lens = session.scalars(
            select(Lens)
            .join(AdminUnit, Lens.commune_id == AdminUnit.id)
            .where(AdminUnit.code == "00235", Lens.status == LensStatus.ACTIVE, Lens.bearing_deg.is_not(None))
            .order_by(Lens.id)
        ).first()
        point, bearing = to_shape(lens.point), math.radians(lens.bearing_deg)
    engine.dispose()
    return (
        point.x + 8 * math.sin(bearing) / (111_320 * math.cos(math.radians(point.y))),
        point.y + 8 * math.cos(bearing) / 110_574,
    )


def owner_link_on(live_server) -> str:
    """A request of Phường Đống Đa routed through the services, and a link to its first owner."""
    lon, lat = point_in_front_of_a_lens(live_server.database_url)
    engine = make_engine(live_server.database_url)
    with Session(engine) as session:
        police = police_actor(session, live_server.username)
        session.get(AdminUnit, police.unit_id).police_phone = DUTY_PHONE
        now = datetime.now(UTC)
        request = requests.open_request(
            session,
            police,
            case_ref="VV-2026-360",
            reason="Trộm xe máy",
            legal_basis="Điều 145 BLTTHS 2015",
            incident=Point(lon, lat),
            window_start=now - timedelta(hours=6),
            window_end=now - timedelta(hours=5),
            public_base_url=live_server.url,
        )
        token = assignment_link(session, request.assignments[0])
        session.commit()
    engine.dispose()
    return token


def on_live_database(live_server, work):
    """`work(session)` on the live server's own database, committed; its result."""
    engine = make_engine(live_server.database_url)
    try:
        with Session(engine) as session:
            result = work(session)
            session.commit()
            return result
    finally:
        engine.dispose()


def admin_on(live_server, username: str) -> str:
    """An admin account `username` on the live server (its password is the live server's), for a module's walk."""
    with live_server.app.extensions["session_factory"]() as session:
        accounts.create_user(session, SYSTEM, username, live_server.password, "admin", None)
        session.commit()
    return username


def sign_in(page, live_server, username):
    page.goto(f"{live_server.url}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", live_server.password)
    page.click("main button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)  # each role lands on its own page


def click_map_at(page, lon: float, lat: float):
    x, y = page.evaluate(
        "([lat, lon]) => { const el = document.getElementById('incident-map');"
        " const p = el.leafletMap.latLngToContainerPoint([lat, lon]); const box = el.getBoundingClientRect();"
        " return [box.left + p.x, box.top + p.y]; }",
        [lat, lon],
    )
    page.mouse.click(x, y)


def free_point_in(page, selector: str) -> tuple[float, float]:
    """Where on the screen a real pointer reaches the first shape matching `selector` (see FREE_POINT_IN)."""
    return page.evaluate(FREE_POINT_IN, selector)


def zoom_coverage_map(page, zoom: int, shown: str) -> None:
    """Centre the coverage map on Phường Đống Đa (its centroid, where the sample's streets cross) at `zoom`, and wait
    until `shown` is drawn and all has loaded."""
    page.evaluate("zoom => document.getElementById('coverage-map').leafletMap.setView([21.0119, 105.8218], zoom)", zoom)
    page.wait_for_selector(shown)
    page.wait_for_load_state("networkidle")


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
    path.write_bytes(MP4_HEAD + bytes(range(256)) * 400)
    return path
