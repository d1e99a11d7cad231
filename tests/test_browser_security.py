"""Stored XSS: hostile text in every stored field that pages show, every page opened in headless Chromium.

Each payload, if it ever ran, would record itself in `window.__xss`. Besides that, the test asserts that no
element with an inline handler reached the DOM (so the pages insert data as text, whatever the CSP says)
and that the browser reported no CSP violation (so nothing even tried).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from browser_support import free_point_in, point_in_front_of_a_lens, zoom_coverage_map
from conftest import SCREENSHOTS
from owner_support import assignment_link, police_actor
from shapely import Point
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from camera_registry.db import make_engine
from camera_registry.models import (
    AdminUnit,
    Assignment,
    FootageClip,
    Lens,
    Owner,
    Recorder,
    Role,
    Site,
)
from camera_registry.services import accounts, requests
from camera_registry.services.access import SYSTEM

IMG = """<img src=x onerror="window.__xss='img'">"""
SCRIPT = """"><script>window.__xss='script'</script>"""
SVG = """'><svg onload="window.__xss='svg'">"""
PAYLOAD = IMG + SCRIPT + SVG
SHORT = "<img src=x onerror=__xss=1>"  # for the 64-character fields
ADMIN, ADMIN_PASSWORD = "security.admin", "browser-test-password"

WATCH = """
window.__csp = [];
document.addEventListener("securitypolicyviolation",
  e => window.__csp.push(e.violatedDirective + " " + e.blockedURI + " " + (e.sample || "")));
"""
HANDLERS = "document.querySelectorAll('[onerror], [onload]').length"
INLINE_SCRIPTS = "document.querySelectorAll('script:not([src]):not([type=\"application/json\"])').length"


@pytest.fixture(scope="module")
def hostile(live_server):
    """Every stored text the pages show, in Phường Đống Đa and above it, made hostile; a request and an owner link."""
    engine = make_engine(live_server.database_url)
    with Session(engine) as session:
        commune = session.scalar(select(AdminUnit).where(AdminUnit.code == "00235"))
        commune.name = "Phường " + PAYLOAD
        commune.parent.name = "Thành phố " + PAYLOAD
        session.execute(update(Site).where(Site.commune_id == commune.id).values(name="Điểm " + PAYLOAD))
        session.execute(
            update(Owner)
            .where(Owner.commune_id == commune.id)
            .values(name="Chủ " + PAYLOAD, address="Số 1 " + PAYLOAD, email="x@example.vn")
        )
        recorder_ids = select(Recorder.id).where(Recorder.commune_id == commune.id).scalar_subquery()
        session.execute(
            update(Recorder).where(Recorder.commune_id == commune.id).values(make=IMG[:100], model=SVG[:100])
        )
        for lens in session.scalars(select(Lens).where(Lens.recorder_id.in_(recorder_ids))):
            lens.external_id = f"{SHORT}{lens.id}"
        for recorder in session.scalars(select(Recorder).where(Recorder.commune_id == commune.id)):
            recorder.external_id = f"{SHORT}{recorder.id}"
        session.flush()

        accounts.create_user(session, SYSTEM, ADMIN, ADMIN_PASSWORD, Role.ADMIN, None, "Quản trị " + IMG)
        session.commit()

    lon, lat = point_in_front_of_a_lens(live_server.database_url)
    with Session(engine) as session:
        police = police_actor(session, live_server.username)
        now = datetime.now(UTC)
        request = requests.open_request(
            session,
            police,
            case_ref=SHORT,
            reason="Trộm xe " + PAYLOAD,
            legal_basis="Điều 145 " + PAYLOAD,
            incident=Point(lon, lat),
            window_start=now - timedelta(hours=6),
            window_end=now - timedelta(hours=5),
            public_base_url=live_server.url,
        )
        assignment = request.assignments[0]
        session.execute(
            update(Assignment)
            .where(Assignment.id == assignment.id)
            .values(answer_note="Ghi chú " + PAYLOAD, evidence_ref="VC " + PAYLOAD[:150])
        )
        session.add(
            FootageClip(
                assignment_id=assignment.id,
                stored_path="/nonexistent",
                original_name=PAYLOAD[:255],
                content_type="video/mp4",
                size_bytes=1,
                sha256="0" * 64,
            )
        )
        token = assignment_link(session, assignment)
        session.commit()
        request_id = request.id
    engine.dispose()
    return {"request_id": request_id, "token": token}


@pytest.fixture()
def watched(page):
    page.context.add_init_script(WATCH)
    return page


def assert_nothing_ran(page, where: str, inline_scripts: int = 0):
    assert page.evaluate("window.__xss") is None, where
    assert page.evaluate("window.__csp") == [], where
    assert page.evaluate(HANDLERS) == 0, where
    assert page.evaluate(INLINE_SCRIPTS) == inline_scripts, where


def visit(page, url: str, where: str, shows: str | None = "onerror", inline_scripts: int = 0):
    page.goto(url)
    page.wait_for_load_state("networkidle")
    if shows:
        assert shows in page.inner_text("body"), f"{where} shows no hostile text"
    assert_nothing_ran(page, where, inline_scripts)


def test_hostile_text_runs_on_no_page(watched, live_server, hostile, backend):
    page, base = watched, live_server.url
    visit(page, f"{base}/login", "login", shows=None)
    for username, password in ((live_server.username, live_server.password), (ADMIN, ADMIN_PASSWORD)):
        page.goto(f"{base}/login")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password)
        page.click("main button[type=submit]")
        page.wait_for_url(lambda url: "/login" not in url)  # each role lands on its own page
        assert_nothing_ran(page, f"landing page ({username})")
        visit(page, f"{base}/", f"front page ({username})", shows="Phường <img src=x")

        visit(page, f"{base}/requests", f"request list ({username})")
        visit(page, f"{base}/requests/{hostile['request_id']}", f"request page ({username})")
        if username == live_server.username:
            visit(page, f"{base}/requests/new", "new request")

        # The map: a commune's tooltip and panel, then a lens with its recorder, site and owner.
        page.goto(f"{base}/map")
        page.wait_for_selector(".lens-cluster")
        zoom_coverage_map(page, 15, "path.commune[data-commune='00235']")
        page.mouse.move(*free_point_in(page, "path[data-commune='00235']"))
        # The commune's layer is redrawn as the map settles, so its old tooltip may still be fading out beside the
        # new one: each shows the name as text.
        tooltips = page.locator(".leaflet-tooltip", has_text="<img src=x")
        tooltips.last.wait_for()
        assert all(text.startswith("Phường <img src=x") for text in tooltips.all_inner_texts())
        page.mouse.click(*free_point_in(page, "path[data-commune='00235']"))
        page.locator("#commune-figures[data-commune='00235']").wait_for()
        zoom_coverage_map(page, 17, "path.map-lens")
        page.mouse.click(*free_point_in(page, "path.map-lens"))
        summary = page.locator("#lens-summary[data-lens]")
        summary.wait_for()
        assert "<img src=x" in summary.inner_text()
        assert_nothing_ran(page, f"map ({username})")
        page.screenshot(path=str(SCREENSHOTS / f"xss-map-{backend}.png"))

        # Swagger UI's page starts it with one inline script of its own, allowed by its hash and nothing else.
        visit(page, f"{base}/api/docs", "API docs", shows=None, inline_scripts=1)
        page.wait_for_selector(".swagger-ui .opblock-tag", timeout=15_000)
        assert_nothing_ran(page, "API docs", inline_scripts=1)
        page.goto(f"{base}/")
        page.click("header button:has-text('Đăng xuất')")
        page.wait_for_url(f"{base}/login")

    visit(page, f"{base}/o/{hostile['token']}", "owner page")
    assert page.foreign_requests == []
