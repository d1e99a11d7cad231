"""Area requests (issue 18, item 2): a Polygon incident routes every lens whose field of view meets it, by the
rule points and routes follow otherwise, on the run's backend; a shape too large, with holes or crossing itself
is refused with 422 naming `incident`, and nothing is written.

The brute-force oracle of tests/test_routing.py draws areas too; here are the edges it only meets by chance.
"""

from __future__ import annotations

import json
import math
import random
import re
from datetime import datetime, timedelta

import pytest
from request_support import open_request, request_body
from shapely import Point, Polygon, box
from sqlalchemy import func, select
from test_geo import RADII_M, make_recorder, oracle_distances, random_point, scattered_lenses, wgs84  # noqa: F401
from test_routing import DAY, INCIDENT, NOW, at, make_lens, make_owner, plan
from test_routing import make_recorder as routing_recorder
from translation_support import english_words

from camera_registry.geo.metric import area_km2
from camera_registry.geo.spatial import lenses_near
from camera_registry.models import AuditEvent, FootageRequest, Lens, LensStatus
from camera_registry.timezones import LOCAL_ZONE

# lens-a of the `world` fixture stands at (105.8201, 21.02) looking east (bearing 90, fov 90, 30 m): this 20 m
# square lies 5 to 25 m in front of it.
IN_FRONT_OF_LENS_A = box(105.82015, 21.0199, 105.82035, 21.0201)
# About 830 m by 660 m inside commune A: 0.55 km², over the default limit.
TOO_LARGE = box(105.81, 21.01, 105.818, 21.016)


def geojson(area: Polygon) -> dict:
    return {"type": "Polygon", "coordinates": [[list(corner) for corner in area.exterior.coords]]}


def around(centre: Point, corners_m: list[tuple[float, float]]) -> Polygon:
    """A polygon whose corners lie (distance m, azimuth °) from `centre`."""
    return Polygon([at(distance, azimuth, centre).coords[0] for distance, azimuth in corners_m])


# --------------------------------------------------------------------------- geo: lenses within the radius of an area


def areas() -> list[Polygon]:
    """Star-shaped areas of 100-500 m across at seeded random places around Hanoi."""
    rng = random.Random(1818)
    found = []
    for _ in range(5):
        centre = random_point(rng)
        angles = sorted(rng.uniform(0, 360) for _ in range(rng.randint(3, 7)))
        found.append(around(centre, [(rng.uniform(50, 250), angle) for angle in angles]))
    return found


AREAS = areas()


@pytest.mark.parametrize("use_index", [True, False], ids=["index", "scan"])
def test_lenses_near_an_area_match_the_ellipsoidal_oracle(session, scattered_lenses, use_index):  # noqa: F811
    ids, lons, lats = scattered_lenses
    for area in AREAS:
        expected = dict(zip(ids.tolist(), oracle_distances(area, lons, lats).tolist()))
        for radius in RADII_M:
            found = {lens.id: distance for lens, distance in lenses_near(session, area, radius, use_index=use_index)}
            clearly = {i for i, d in expected.items() if d <= radius - 0.5}
            maybe = {i for i, d in expected.items() if d <= radius + 0.5}
            assert clearly <= set(found) <= maybe, (radius, sorted(clearly - set(found)), sorted(set(found) - maybe))
            for lens_id, distance in found.items():
                assert distance == pytest.approx(expected[lens_id], abs=0.5), lens_id
    assert sum(len(lenses_near(session, area, 200)) for area in AREAS) >= 5  # not vacuous


def test_a_lens_inside_an_area_on_its_edge_or_corner_is_found_at_zero_metres(session):
    """SpatiaLite's ST_ClosestPoint answers NULL on a shape's outline, and its outline's nearest point from inside
    it: none of these lenses may be dropped or put farther than 0 m."""
    area = box(105.80, 21.00, 105.81, 21.01)
    recorder = make_recorder(session, "area", Point(105.805, 21.005))
    spots = {"inside": (105.803, 21.004), "on-edge": (105.805, 21.00), "on-corner": (105.81, 21.01)}
    session.add_all(Lens(external_id=key, recorder=recorder, point=wgs84(Point(*xy))) for key, xy in spots.items())
    session.add(Lens(external_id="outside", recorder=recorder, point=wgs84(Point(105.8105, 21.005))))  # ~52 m east
    session.flush()
    found = {lens.external_id: distance for lens, distance in lenses_near(session, area, 50)}
    assert found.keys() == set(spots)
    assert all(distance < 0.01 for distance in found.values()), found
    assert {lens.external_id for lens, _ in lenses_near(session, area, 60)} == {*spots, "outside"}


def test_an_area_is_measured_on_the_ellipsoid():
    assert area_km2(TOO_LARGE) == pytest.approx(0.55, abs=0.01)
    assert area_km2(Polygon(list(TOO_LARGE.exterior.coords)[::-1])) == area_km2(TOO_LARGE)  # either winding


# --------------------------------------------------------------------------- routing an area

#: A 60 m square centred on the routing tests' incident point.
SQUARE = around(INCIDENT, [(30 * math.sqrt(2), azimuth) for azimuth in (45, 135, 225, 315)])


def routed_ids(result) -> set[int]:
    return {lens.lens_id for route in result.routes for lens in route.lenses}


def test_a_lens_inside_the_area_is_routed_whichever_way_it_faces(session):
    recorder = routing_recorder(session, make_owner(session, "a"), "a")
    facing = {
        bearing: make_lens(session, recorder, f"inside-{bearing}", at(10, 200), bearing, fov_deg=20, range_m=5)
        for bearing in (0, 90, 180, 270)
    }
    dome = make_lens(session, recorder, "dome", at(25, 20), None, range_m=1)
    result = plan(session, SQUARE, radius_m=50)
    assert routed_ids(result) == {lens.id for lens in (*facing.values(), dome)}
    assert {lens.distance_m for route in result.routes for lens in route.lenses} == {0.0}


def test_a_lens_outside_is_routed_when_its_view_reaches_the_area_and_skipped_when_it_faces_away(session):
    recorder = routing_recorder(session, make_owner(session, "a"), "a")
    west = at(60, 270)  # 30 m west of the square's west side
    looking = make_lens(session, recorder, "looking", west, 90, fov_deg=30, range_m=40)
    away = make_lens(session, recorder, "away", west, 270, fov_deg=30, range_m=40)
    short = make_lens(session, recorder, "short", west, 90, fov_deg=30, range_m=25)
    result = plan(session, SQUARE, radius_m=50)
    assert routed_ids(result) == {looking.id}
    assert result.skipped["out_of_view"] == 2 and {away.id, short.id}.isdisjoint(routed_ids(result))
    assert result.routes[0].distance_m == pytest.approx(30, abs=0.05)


@pytest.mark.parametrize("into_view_deg, routed", [(0.2, True), (-0.2, False)], ids=["reaches-in", "stops-short"])
def test_a_view_whose_side_only_touches_a_corner_of_the_area(session, into_view_deg, routed):
    """The lens looks east (45°..135°); the area lies north of its view but for one corner, 14 cm inside its
    northern side or 14 cm short of it."""
    recorder = routing_recorder(session, make_owner(session, "a"), "a")
    lens = make_lens(session, recorder, "side", INCIDENT, 90, fov_deg=90, range_m=80)
    area = around(INCIDENT, [(40, 45 + into_view_deg), (50, 20), (30, 10)])
    result = plan(session, area, radius_m=100)
    assert (lens.id in routed_ids(result)) is routed
    assert result.skipped["out_of_view"] == (0 if routed else 1)


def test_an_area_whose_edge_crosses_the_view_is_routed_though_no_corner_is_in_it(session):
    recorder = routing_recorder(session, make_owner(session, "a"), "a")
    lens = make_lens(session, recorder, "narrow", INCIDENT, 0, fov_deg=4, range_m=50)
    area = around(INCIDENT, [(40, 300), (40, 60), (70, 0)])  # its south edge passes 20 m north of the lens
    result = plan(session, area, radius_m=100)
    assert routed_ids(result) == {lens.id}
    assert result.routes[0].distance_m == pytest.approx(20, abs=0.05)


def test_an_area_wholly_inside_a_view_is_routed(session):
    recorder = routing_recorder(session, make_owner(session, "a"), "a")
    lens = make_lens(session, recorder, "wide", INCIDENT, 0, fov_deg=60, range_m=80)
    area = around(at(40, 0), [(3, 45), (3, 135), (3, 225), (3, 315)])  # 4 m across, 40 m ahead
    assert area.within(Polygon([INCIDENT.coords[0], at(90, 330).coords[0], at(90, 30).coords[0]]))
    result = plan(session, area, radius_m=100)
    assert routed_ids(result) == {lens.id}


def test_the_same_rule_holds_otherwise_for_an_area(session):
    """Inactive lenses, footage already overwritten and the radius decide as for a point."""
    owner = make_owner(session, "a")
    short_memory = routing_recorder(session, owner, "short", retention_days=2)
    recorder = routing_recorder(session, owner, "a")
    offline = make_lens(session, recorder, "offline", at(5, 0), None, status=LensStatus.OFFLINE)
    make_lens(session, short_memory, "overwritten", at(5, 90), None)
    beyond = make_lens(session, recorder, "beyond-radius", at(95, 0), 180, range_m=80)  # 65 m off, seeing it
    kept = make_lens(session, recorder, "kept", at(5, 180), None)
    result = plan(session, SQUARE, radius_m=50, window_start=NOW - 3 * DAY)
    assert routed_ids(result) == {kept.id}
    assert result.skipped == {"inactive": 1, "out_of_view": 0, "overwritten": 1}
    assert result.considered == 3 and offline.id not in routed_ids(result)
    assert beyond.id in routed_ids(plan(session, SQUARE, radius_m=70, window_start=NOW - 3 * DAY))


# --------------------------------------------------------------------------- the API


def request_count(session) -> int:
    return session.scalar(select(func.count(FootageRequest.id)))


def test_an_officer_files_an_area_request_through_the_api(client, world, session):
    response = open_request(client, world, incident=geojson(IN_FRONT_OF_LENS_A))
    assert response.status_code == 201, response.get_json()
    created = response.get_json()
    assert created["incident"]["type"] == "Polygon"
    assert created["status"] == "routed" and created["lenses_routed"] == 1
    assert [lens["lens_id"] for lens in created["assignments"][0]["lenses"]] == [world.objects["a"]["lens"]]
    assert created["assignments"][0]["lenses"][0]["distance_m"] == pytest.approx(5, abs=1)
    stored = client.get(f"/api/v1/footage-requests/{created['id']}", headers=world.headers["police_a"]).get_json()
    assert stored["incident"]["coordinates"] == created["incident"]["coordinates"]


HOLED = {
    "type": "Polygon",
    "coordinates": [
        [[105.82, 21.02], [105.822, 21.02], [105.822, 21.022], [105.82, 21.022], [105.82, 21.02]],
        [[105.8205, 21.0205], [105.8215, 21.0205], [105.8215, 21.0215], [105.8205, 21.0215], [105.8205, 21.0205]],
    ],
}
BOW_TIE = {
    "type": "Polygon",
    "coordinates": [[[105.82, 21.02], [105.822, 21.022], [105.822, 21.02], [105.82, 21.022], [105.82, 21.02]]],
}
FLAT = {"type": "Polygon", "coordinates": [[[105.82, 21.02], [105.822, 21.02], [105.82, 21.02], [105.82, 21.02]]]}
TWO_AREAS = {"type": "MultiPolygon", "coordinates": [geojson(IN_FRONT_OF_LENS_A)["coordinates"]]}


@pytest.mark.parametrize(
    "incident, words",
    [
        (geojson(TOO_LARGE), "the area is 0.55 km², more than the 0.5 km² an area request may cover"),
        (HOLED, "an area may not have holes"),
        (BOW_TIE, "its outline crosses or touches itself near 105.821, 21.021"),
        (FLAT, "too few distinct points"),
        (TWO_AREAS, "GeoJSON type must be Point or LineString or Polygon, not 'MultiPolygon'"),
    ],
    ids=["too-large", "holed", "bow-tie", "flat", "multipolygon"],
)
def test_bad_areas_are_refused_naming_the_incident_and_nothing_is_written(client, world, session, incident, words):
    before, audited = request_count(session), session.scalar(select(func.count(AuditEvent.id)))
    response = open_request(client, world, incident=incident)
    assert response.status_code == 422, response.get_json()
    assert words in " ".join(response.get_json()["errors"]["incident"]), response.get_json()
    assert request_count(session) == before
    assert session.scalar(select(func.count(AuditEvent.id))) == audited


@pytest.mark.parametrize("incident", [geojson(TOO_LARGE), HOLED, BOW_TIE], ids=["too-large", "holed", "bow-tie"])
def test_an_area_refused_is_said_in_vietnamese(client, world, incident):
    response = client.post(
        "/api/v1/footage-requests",
        json=request_body(incident=incident),
        headers={**world.headers["police_a"], "Accept-Language": "vi"},
    )
    assert response.status_code == 422
    reasons = " ".join(response.get_json()["errors"]["incident"])
    assert english_words(reasons) == [], reasons
    assert re.search("vùng|đường bao", reasons), reasons


def test_the_largest_area_is_the_installations_setting(client, world, app, monkeypatch):
    monkeypatch.setitem(app.config, "AREA_REQUEST_MAX_KM2", 0.6)
    assert open_request(client, world, incident=geojson(TOO_LARGE)).status_code == 201
    monkeypatch.setitem(app.config, "AREA_REQUEST_MAX_KM2", 0.0001)
    refused = open_request(client, world, incident=geojson(IN_FRONT_OF_LENS_A))
    assert refused.status_code == 422
    assert "more than the 0.0001 km²" in refused.get_json()["errors"]["incident"][0]


# --------------------------------------------------------------------------- the police pages


def test_the_request_page_draws_the_area(client, world):
    created = open_request(client, world, incident=geojson(IN_FRONT_OF_LENS_A)).get_json()
    page = client.get(f"/requests/{created['id']}", headers=world.headers["police_a"])
    assert page.status_code == 200
    features = re.search(r'data-features="([^"]*)"', page.get_data(as_text=True))[1].replace("&#34;", '"')
    assert json.loads(features)["incident"]["type"] == "Polygon"


def test_the_request_form_files_an_area_and_says_why_one_is_too_large(client, world, app, monkeypatch, session):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", False)
    now = datetime.now(LOCAL_ZONE)
    form = {
        "case_ref": "VV-2026-018",
        "reason": "Trộm xe máy trong khu chợ",
        "legal_basis": "Điều 145 Bộ luật Tố tụng hình sự",
        "window_start": (now - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M"),
        "window_end": (now - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
        "radius_m": "150",
    }
    headers = {**world.headers["police_a"], "Accept-Language": "vi"}
    before = request_count(session)
    refused = client.post("/requests/new", data={**form, "incident": json.dumps(geojson(TOO_LARGE))}, headers=headers)
    assert refused.status_code == 422
    assert "vượt mức 0.5 km²" in refused.get_data(as_text=True)
    assert request_count(session) == before
    filed = client.post(
        "/requests/new", data={**form, "incident": json.dumps(geojson(IN_FRONT_OF_LENS_A))}, headers=headers
    )
    assert filed.status_code == 303, filed.get_data(as_text=True)[:2000]
    assert request_count(session) == before + 1
