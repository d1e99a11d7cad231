"""Headless Chromium: an owner's phone shows the keep-until time and, apart, the police's reply deadline; once
every owner let it pass unanswered, the police's list and page say so instead of a bare "resolved"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from browser_support import point_in_front_of_a_lens, sign_in
from owner_support import assignment_link, police_actor
from shapely import Point
from sqlalchemy.orm import Session

from camera_registry.db import make_engine
from camera_registry.services import requests
from camera_registry.services.access import SYSTEM
from camera_registry.services.workflow import transition_assignment
from camera_registry.timezones import local_time

REPLY_WITHIN = timedelta(minutes=3)


def _file_with_reply_deadline(live_server):
    """A request of Phường Đống Đa due in 3 minutes; its first owner's link, keep-until and answer-by, and its id."""
    lon, lat = point_in_front_of_a_lens(live_server.database_url)
    engine = make_engine(live_server.database_url)
    with Session(engine) as session:
        now = datetime.now(UTC)
        request = requests.open_request(
            session,
            police_actor(session, live_server.username),
            case_ref="VV-2026-903",
            reason="Trộm xe máy",
            legal_basis="Điều 145 BLTTHS 2015",
            incident=Point(lon, lat),
            window_start=now - timedelta(hours=6),
            window_end=now - timedelta(hours=5),
            deadline=now + REPLY_WITHIN,
            public_base_url=live_server.url,
        )
        first = request.assignments[0]
        facts = (
            assignment_link(session, first),
            local_time(first.overwrite_deadline),
            local_time(first.preservation_deadline),
            request.id,
        )
        session.commit()
    engine.dispose()
    return facts


def _expire_every_assignment(live_server, request_id: int) -> None:
    engine = make_engine(live_server.database_url)
    with Session(engine) as session:
        for assignment in requests.get_request(session, SYSTEM, request_id).assignments:
            transition_assignment(session, SYSTEM, assignment, "expire")
        session.commit()
    engine.dispose()


def test_the_owner_sees_both_deadlines_and_the_police_see_the_request_expired_unanswered(phone, page, live_server):
    token, keep_until, answer_by, request_id = _file_with_reply_deadline(live_server)
    assert keep_until != answer_by

    phone.goto(f"{live_server.url}/o/{token}")
    assert keep_until in phone.inner_text("#keep-until")
    assert answer_by in phone.inner_text("#answer-by")
    phone.goto(f"{live_server.url}/o/{token}?lang=en")
    assert "Please answer by" in phone.inner_text("main")

    _expire_every_assignment(live_server, request_id)
    sign_in(page, live_server, live_server.username)
    page.goto(f"{live_server.url}/requests/{request_id}")
    assert page.inner_text("#request-outcome") == "Hết hạn, không chủ camera nào trả lời"
    page.goto(f"{live_server.url}/requests")
    row = page.locator(f"#requests tr[data-request='{request_id}'] .status")
    assert row.get_attribute("data-outcome") == "expired_unanswered"
    assert row.inner_text() == "Hết hạn, không chủ camera nào trả lời"
