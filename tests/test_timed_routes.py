"""Timed routes (issue 18, item 1) on the run's backend: each lens is asked for when the target could have been
in its view, its deadlines follow that window, and the API takes the times, the speed range, the margin and GPS
tracks, refusing bad ones with 422 naming the field, in the reader's language, writing nothing.

The windows themselves are checked against a brute force in tests/test_route_timing.py.
"""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime, timedelta

import pytest
from owner_support import POLICE_PHONE, assignment_link, police_actor
from request_support import NOW as REQUEST_NOW
from request_support import iso, open_request, request_body
from shapely import LineString
from shapely.geometry import shape
from sqlalchemy import func, select
from test_routing import DAY, INCIDENT, NOW, at, make_lens, make_owner, make_recorder
from translation_support import english_words

from camera_registry.models import AssignmentLens, AuditEvent, FootageRequest, OutboxMessage
from camera_registry.services import requests
from camera_registry.services.route_timing import RouteTiming
from camera_registry.services.routing import plan_routing
from camera_registry.timezones import local_time

# --------------------------------------------------------------------------- routing with times

# A 1 km route east from INCIDENT, at 36 km/h (10 m/s), timed at both ends.
ROUTE = LineString([INCIDENT.coords[0], at(1000, 90).coords[0]])


def lens_beside_the_route(session, recorder, key: str, metres_along: float):
    """A lens 20 m north of the route `metres_along` its start, facing it (south), 60° wide, 50 m deep."""
    return make_lens(session, recorder, key, at(20, 0, at(metres_along, 90)), bearing_deg=180, fov_deg=60, range_m=50)


def test_each_lens_is_asked_for_when_the_target_passed_it_and_its_deadlines_follow(session):
    owner = make_owner(session, "timed")
    recorder = make_recorder(session, owner, "timed", retention_days=3)
    early = lens_beside_the_route(session, recorder, "early", 100)
    late = lens_beside_the_route(session, recorder, "late", 900)
    session.flush()
    # The request's window starts more than 3 days ago: untimed, its start is already overwritten.
    window_start, window_end = NOW - 3 * DAY - timedelta(hours=1), NOW - 3 * DAY + timedelta(hours=1)
    passed = NOW - 3 * DAY + timedelta(minutes=10)
    timing = RouteTiming((passed, passed + timedelta(seconds=100)), 36, 36, 1)

    untimed = plan_routing(session, ROUTE, 100, window_start, window_end, NOW)
    timed = plan_routing(session, ROUTE, 100, window_start, window_end, NOW, timing=timing)

    assert all(lens.partially_overwritten and lens.window_start is None for lens in untimed.routes[0].lenses)
    lenses = {lens.lens_id: lens for lens in timed.routes[0].lenses}
    for lens, metres in ((early, 100), (late, 900)):
        routed = lenses[lens.id]
        # In view from about 11.5 m before to 11.5 m after, at 10 m/s, with a minute each side.
        middle = passed + timedelta(seconds=metres / 10)
        assert routed.window_start == pytest.approx(middle - timedelta(seconds=61.15), abs=timedelta(seconds=0.2))
        assert routed.window_end == pytest.approx(middle + timedelta(seconds=61.15), abs=timedelta(seconds=0.2))
        assert not routed.partially_overwritten
        assert routed.preservation_deadline == routed.window_start + 3 * DAY
    assert timed.routes[0].preservation_deadline == lenses[early.id].preservation_deadline


def test_a_lens_the_target_passed_outside_the_window_is_out_of_view(session):
    owner = make_owner(session, "outside")
    recorder = make_recorder(session, owner, "outside")
    lens_beside_the_route(session, recorder, "start", 50)
    lens_beside_the_route(session, recorder, "end", 950)
    session.flush()
    start = NOW - DAY
    timing = RouteTiming((start + timedelta(minutes=30), start + timedelta(minutes=35)), 3, 60, 0)  # 12 km/h
    plan = plan_routing(session, ROUTE, 100, start, start + timedelta(hours=1), NOW, timing=timing)
    assert plan.routed == 2
    # The start's view is reached 2.3 s after the first time at 60 km/h, the end's 3 min 46 s after it at the
    # latest for its last time at 3 km/h: a window ending 5 s after the first time holds only the start's.
    window_start = start + timedelta(minutes=30, seconds=5)
    plan = plan_routing(session, ROUTE, 100, window_start - timedelta(minutes=1), window_start, NOW, timing=timing)
    assert plan.routed == 1 and plan.skipped["out_of_view"] == 1


# --------------------------------------------------------------------------- the API

# 10 m east of lens-a (105.8201, 21.02, facing east, 90° wide, 30 m deep), running north 222 m.
NORTHWARD = {"type": "LineString", "coordinates": [[105.8202, 21.019], [105.8202, 21.02], [105.8202, 21.021]]}
PASSED = REQUEST_NOW - timedelta(hours=2, minutes=30)


def timed_body(**overrides):
    return request_body(
        incident=NORTHWARD, route_times=[iso(PASSED), None, iso(PASSED + timedelta(seconds=60))], **overrides
    )


def request_count(session) -> int:
    return session.scalar(select(func.count(FootageRequest.id)))


def test_a_timed_route_asks_each_lens_for_its_window_only(client, world, session):
    response = client.post("/api/v1/footage-requests", json=timed_body(), headers=world.headers["police_a"])
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert (
        body["route_timing"]["speed_kmh"] == {"min": 3.0, "max": 60.0} and body["route_timing"]["margin_minutes"] == 2
    )
    [assignment] = body["assignments"]
    [lens] = assignment["lenses"]
    start, end = datetime.fromisoformat(lens["window_start"]), datetime.fromisoformat(lens["window_end"])
    # The target passed lens-a about half-way (30 s); 222 m in 60 s, so the speed range hardly matters.
    assert start < PASSED + timedelta(seconds=30) < end
    assert end - start < timedelta(minutes=6)
    assert (assignment["window_start"], assignment["window_end"]) == (lens["window_start"], lens["window_end"])
    stored = session.scalar(select(AssignmentLens).where(AssignmentLens.assignment_id == assignment["id"]))
    assert stored.window_start == start and stored.overwrite_deadline == start + timedelta(days=14)


def test_a_timed_draft_is_routed_with_its_times_when_opened(client, world):
    headers = world.headers["police_a"]
    draft = client.post("/api/v1/footage-requests", json=timed_body(draft=True, margin_minutes=0), headers=headers)
    assert draft.status_code == 201 and draft.get_json()["assignments"] == []
    opened = client.post(f"/api/v1/footage-requests/{draft.get_json()['id']}/open", json={}, headers=headers)
    [lens] = opened.get_json()["assignments"][0]["lenses"]
    assert datetime.fromisoformat(lens["window_end"]) - datetime.fromisoformat(lens["window_start"]) < timedelta(
        minutes=2
    )


def test_an_untimed_request_asks_for_the_whole_window(client, world):
    body = open_request(client, world).get_json()
    [lens] = body["assignments"][0]["lenses"]
    assert body["route_timing"] is None
    assert (lens["window_start"], lens["window_end"]) == (body["window_start"], body["window_end"])


TIMES = [iso(PASSED), None, iso(PASSED + timedelta(seconds=60))]
BAD_TIMINGS = [
    ({"incident": {"type": "Point", "coordinates": [105.8202, 21.02]}, "route_times": TIMES}, "route_times", "route"),
    ({"route_times": TIMES[:2]}, "route_times", "one per point"),
    ({"route_times": [iso(PASSED), None, None]}, "route_times", "at least two"),
    ({"route_times": [iso(PASSED), None, iso(PASSED - timedelta(seconds=1))]}, "route_times", "later than"),
    ({"route_times": [iso(REQUEST_NOW - timedelta(hours=4)), None, iso(PASSED)]}, "route_times", "within the window"),
    ({"route_times": TIMES, "speed_kmh": {"min": 0}}, "speed_kmh", "above 0"),
    ({"route_times": TIMES, "speed_kmh": {"min": 50, "max": 40}}, "speed_kmh", "at most max"),
    ({"route_times": TIMES, "speed_kmh": {"max": 500}}, "speed_kmh", "200 km/h"),
    ({"route_times": TIMES, "margin_minutes": -1}, "margin_minutes", "from 0 to 120"),
    ({"route_times": None, "margin_minutes": 5}, "margin_minutes", "route_times"),
]


@pytest.mark.parametrize("overrides, field, words", BAD_TIMINGS)
def test_bad_timings_are_refused_naming_the_field_and_nothing_is_written(
    client, world, session, overrides, field, words
):
    before, audited = request_count(session), session.scalar(select(func.count(AuditEvent.id)))
    body = request_body(**{"incident": NORTHWARD, **overrides})
    response = client.post("/api/v1/footage-requests", json=body, headers=world.headers["police_a"])
    assert response.status_code == 422, response.get_json()
    assert words in " ".join(response.get_json()["errors"][field]), response.get_json()
    assert request_count(session) == before
    assert session.scalar(select(func.count(AuditEvent.id))) == audited


@pytest.mark.parametrize("overrides, field, words", BAD_TIMINGS)
def test_bad_timings_are_refused_in_vietnamese(client, world, overrides, field, words):
    headers = {**world.headers["police_a"], "Accept-Language": "vi"}
    response = client.post(
        "/api/v1/footage-requests", json=request_body(**{"incident": NORTHWARD, **overrides}), headers=headers
    )
    assert response.status_code == 422
    reasons = " ".join(response.get_json()["errors"][field])
    assert english_words(reasons.replace("route_times", "").replace("km/h", "")) == [], reasons


# --------------------------------------------------------------------------- GPS tracks

GPX = f"""<?xml version="1.0" encoding="UTF-8"?>
<gpx version="1.1" creator="phone" xmlns="http://www.topografix.com/GPX/1/1">
  <trk><name>trace</name><trkseg>
    <trkpt lat="21.019" lon="105.8202"><ele>12</ele><time>{PASSED.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}</time></trkpt>
    <trkpt lat="21.020" lon="105.8202"></trkpt>
    <trkpt lat="21.021" lon="105.8202"><time>{(PASSED + timedelta(seconds=60)).isoformat()}</time></trkpt>
  </trkseg></trk>
</gpx>"""


def upload(client, world, content: str | bytes, name: str = "trace.gpx", language: str = "en"):
    data = {"track": (io.BytesIO(content.encode() if isinstance(content, str) else content), name)}
    headers = {**world.headers["police_a"], "Accept-Language": language}
    return client.post("/api/v1/footage-requests/track", data=data, headers=headers, content_type="multipart/form-data")


def test_a_gpx_track_becomes_a_timed_route_to_file(client, world):
    response = upload(client, world, GPX)
    assert response.status_code == 200, response.get_json()
    route = response.get_json()
    assert route["incident"] == NORTHWARD
    assert route["route_times"][1] is None
    assert datetime.fromisoformat(route["route_times"][0]) == PASSED.replace(microsecond=0)
    filed = client.post("/api/v1/footage-requests", json=request_body(**route), headers=world.headers["police_a"])
    assert filed.status_code == 201, filed.get_json()
    assert filed.get_json()["lenses_routed"] == 1


def test_a_geojson_track_with_coord_times_is_read_too(client, world):
    feature = {
        "type": "Feature",
        "properties": {"coordTimes": [iso(PASSED), "", iso(PASSED + timedelta(seconds=60))]},
        "geometry": NORTHWARD,
    }
    response = upload(client, world, json.dumps({"type": "FeatureCollection", "features": [feature]}), "t.geojson")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["incident"] == NORTHWARD and response.get_json()["route_times"][1] is None


@pytest.mark.parametrize(
    "content, words",
    [
        ("hello", "neither GPX nor GeoJSON"),
        ("<gpx><trk><trkseg><trkpt lat='21.02' lon='105.82'/></trkseg></trk>", "well-formed"),
        ("<kml></kml>", "not a GPX"),
        ('<!DOCTYPE gpx [<!ENTITY a "b">]><gpx/>', "entities"),
        (GPX.replace('lon="105.8202"><ele>', 'lon="east"><ele>'), "point 1"),
        (GPX.replace("<time>2", "<time>not 2", 1), "ISO 8601"),
        (GPX.replace('lat="21.019"', 'lat="48.85"'), "outside Vietnam"),
        ('{"type": "LineString", "coordinates": [[105.82, 21.02], [105.821, 21.02]]}', "coordTimes"),
        ('{"type": "Point", "coordinates": [105.82, 21.02]}', "one LineString"),
        ("<gpx></gpx>", "at least two points"),
    ],
)
def test_bad_tracks_are_refused_naming_the_track(client, world, content, words):
    response = upload(client, world, content)
    assert response.status_code == 422, response.get_json()
    assert words in " ".join(response.get_json()["errors"]["track"]), response.get_json()


def test_a_bad_track_is_refused_in_vietnamese(client, world):
    response = upload(client, world, "hello", language="vi")
    assert response.status_code == 422
    reasons = " ".join(response.get_json()["errors"]["track"])
    assert english_words(reasons.replace("GPX", "").replace("GeoJSON", "")) == [], reasons


# --------------------------------------------------------------------------- what owners and the evidence see


@pytest.fixture()
def timed_assignment(session, world):
    """Owner a asked about lens-a by a timed route of commune A's police; its link, committed."""
    world.commune_a.police_phone = POLICE_PHONE
    request = requests.open_request(
        session,
        police_actor(session),
        case_ref="VV-2026-118",
        reason="Cướp giật",
        legal_basis="Điều 145 BLTTHS",
        incident=shape(NORTHWARD),
        window_start=REQUEST_NOW - timedelta(hours=3),
        window_end=REQUEST_NOW - timedelta(hours=2),
        route_times=[PASSED, None, PASSED + timedelta(seconds=60)],
        public_base_url="http://127.0.0.1:5000",
    )
    [assignment] = request.assignments
    token = assignment_link(session, assignment)
    session.commit()
    return assignment, token


def test_the_owner_page_and_messages_give_the_lens_window_not_the_request_window(client, session, timed_assignment):
    assignment, token = timed_assignment
    [lens] = assignment.lenses
    assert assignment.request.window_start < lens.window_start < lens.window_end < assignment.request.window_end
    html = client.get(f"/o/{token}?lang=en").get_data(as_text=True)
    asked = f"{local_time(lens.window_start)} – {local_time(lens.window_end)}"
    assert f"Recordings asked for: {asked}" in html
    assert f'<dd id="window">{asked}</dd>' in html
    assert local_time(assignment.request.window_start) not in html
    [message] = session.scalars(select(OutboxMessage).where(OutboxMessage.assignment_id == assignment.id)).all()[:1]
    assert (
        local_time(lens.window_start) in message.body
        and local_time(assignment.request.window_start) not in message.body
    )


def test_the_evidence_manifest_records_each_lens_window(app, client, world, timed_assignment, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "CLIP_STORAGE_DIR", str(tmp_path / "clips"))
    monkeypatch.setitem(app.config, "EVIDENCE_SIGNING_KEY", str(tmp_path / "keys" / "evidence.pem"))
    assignment, _ = timed_assignment
    [lens] = assignment.lenses
    response = client.get(f"/requests/{assignment.request_id}/evidence.zip", headers=world.headers["police_a"])
    assert response.status_code == 200
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        manifest = json.loads(archive.read("manifest.json"))
    [entry] = manifest["assignments"][0]["lenses"]
    assert datetime.fromisoformat(entry["window_start"]) == lens.window_start
    assert datetime.fromisoformat(entry["window_end"]) == lens.window_end
