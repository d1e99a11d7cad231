"""Headless Chromium: an owner asked about a timed route reads each camera's own window, not the whole request's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from browser_support import on_live_database, point_in_front_of_a_lens
from owner_support import assignment_link, police_actor
from shapely import LineString

from camera_registry.services import requests
from camera_registry.timezones import local_time


def test_an_owner_reads_each_cameras_window_of_a_timed_route(page, live_server):
    lon, lat = point_in_front_of_a_lens(live_server.database_url)
    now = datetime.now(UTC)
    passed = now - timedelta(hours=5, minutes=30)

    def file_timed_route(session):
        request = requests.open_request(
            session,
            police_actor(session, live_server.username),
            case_ref="VV-2026-418",
            reason="Cướp giật",
            legal_basis="Điều 145 BLTTHS 2015",
            incident=LineString([(lon, lat), (lon, lat + 0.002)]),  # from in front of the lens, 220 m north
            window_start=now - timedelta(hours=6),
            window_end=now - timedelta(hours=5),
            route_times=[passed, passed + timedelta(seconds=60)],
            public_base_url=live_server.url,
        )
        assignment = request.assignments[0]
        windows = [(local_time(item.window_start), local_time(item.window_end)) for item in assignment.lenses]
        heading = f"{local_time(assignment.window_start)} – {local_time(assignment.window_end)}"
        return assignment_link(session, assignment), windows, heading, local_time(request.window_start)

    token, windows, heading, request_start = on_live_database(live_server, file_timed_route)
    page.goto(f"{live_server.url}/o/{token}")
    lenses = page.inner_text("#lenses")
    for start, end in windows:
        assert f"Đoạn ghi hình được đề nghị: {start} – {end}" in lenses
    assert page.inner_text("#window") == heading
    assert request_start not in page.inner_text("main")
