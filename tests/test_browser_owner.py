"""Headless Chromium on a phone-sized screen: an owner opens their link, reads the request and consents."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from conftest import SCREENSHOTS
from shapely import Point
from sqlalchemy import select
from sqlalchemy.orm import Session
from test_browser_requests import point_in_front_of_a_lens

from camera_registry.db import make_engine
from camera_registry.models import AdminUnit, LinkPurpose, User
from camera_registry.services import requests
from camera_registry.services.access import actor_for
from camera_registry.services.owner_links import issue_link

PHONE = {"width": 360, "height": 740}
DUTY_PHONE = "024 3851 0000"


def owner_link_on(live_server) -> str:
    """A request of Phường Đống Đa routed through the services, and a link to its first owner."""
    lon, lat = point_in_front_of_a_lens(live_server.database_url)
    engine = make_engine(live_server.database_url)
    with Session(engine) as session:
        police = actor_for(session, session.scalar(select(User).where(User.username == live_server.username)))
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
        assignment = request.assignments[0]
        token = issue_link(
            session,
            owner=assignment.owner,
            purpose=LinkPurpose.ASSIGNMENT,
            assignment=assignment,
            expires_at=assignment.preservation_deadline,
        )
        session.commit()
    engine.dispose()
    return token


def no_horizontal_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_an_owner_consents_on_a_phone(browser, live_server, backend):
    token = owner_link_on(live_server)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale="vi-VN")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(f"{live_server.url}/o/{token}")
        assert page.inner_text("h1") == "Yêu cầu cung cấp dữ liệu camera của công an"
        assert "Điều 145 BLTTHS 2015" in page.inner_text("#legal-basis")
        assert page.locator("#lenses li").count() >= 1 and page.inner_text("#keep-until")
        assert DUTY_PHONE in page.inner_text("#police-contact")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        assert no_horizontal_scroll(page)
        page.screenshot(path=str(SCREENSHOTS / f"owner-request-{backend}.png"), full_page=True)

        page.check("#consent-form input[value=police_copy]")
        with page.expect_navigation():
            page.click("#consent-form button[type=submit]")
        assert page.get_attribute("#answer", "data-answer") == "consent"
        assert "Câu trả lời của bạn đã được ghi nhận" in page.inner_text("#answer")
        assert page.locator("#consent-form").count() == 0
        assert no_horizontal_scroll(page)
        page.screenshot(path=str(SCREENSHOTS / f"owner-consented-{backend}.png"), full_page=True)

        page.click("#languages a")
        assert "Your answer has been recorded" in page.inner_text("#answer")
        assert no_horizontal_scroll(page)
    finally:
        context.close()
    assert errors == []
