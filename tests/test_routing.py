"""The routing rule (DESIGN.md §5) and the field-of-view geometry under it, on the run's backend.

`plan_routing` is checked against a brute-force oracle written without the
code under test: geodesic distances and azimuths from pyproj's Geod, with
line incidents and the outlines of area incidents sampled every 0.5 m.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
import shapely
from geoalchemy2.shape import from_shape
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod
from shapely import LineString, Point, Polygon
from sqlalchemy import event

from camera_registry.geo.sectors import LensView, LocalFrame, field_of_view, sight
from camera_registry.models import (
    CommitmentChannel,
    Lens,
    LensStatus,
    Owner,
    OwnerKind,
    Recorder,
    RecorderStatus,
    SharingCommitment,
)
from camera_registry.services.errors import ValidationFailed
from camera_registry.services.routing import SkipReason, plan_routing

GEOD = Geod(ellps="WGS84")
INCIDENT = Point(105.85, 21.02)
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
NO_SKIPS = {"inactive": 0, "out_of_view": 0, "overwritten": 0}


def at(distance_m: float, azimuth_deg: float, origin: Point = INCIDENT) -> Point:
    """The point `distance_m` from `origin` along the geodesic leaving it at `azimuth_deg`."""
    lon, lat, _ = GEOD.fwd(origin.x, origin.y, azimuth_deg, distance_m)
    return Point(lon, lat)


def geodesic(a: Point, b: Point) -> tuple[float, float]:
    """Azimuth (degrees clockwise from north) and distance (m) from a to b."""
    azimuth, _, distance = GEOD.inv(a.x, a.y, b.x, b.y, return_back_azimuth=True)
    return azimuth, distance


# --------------------------------------------------------------------------- field_of_view


def bearing_point(bearing_deg: float, distance_m: float, apex=(0.0, 0.0)) -> Point:
    angle = math.radians(bearing_deg)
    return Point(apex[0] + distance_m * math.sin(angle), apex[1] + distance_m * math.cos(angle))


def test_sector_wraps_through_north():
    sector = field_of_view((0.0, 0.0), 350, 40, 100)  # spans 330..10
    assert sector.is_valid
    for bearing in (331, 345, 0, 5, 9):
        assert sector.contains(bearing_point(bearing, 50)), bearing
    for bearing in (30, 325, 11, 180):
        assert not sector.contains(bearing_point(bearing, 50)), bearing


def test_full_circle_is_a_disc_around_the_lens():
    disc = field_of_view((10.0, -20.0), 123, 360, 50)
    assert disc.is_valid
    for bearing in range(0, 360, 15):
        assert disc.contains(bearing_point(bearing, 49.7, (10.0, -20.0))), bearing
        assert not disc.contains(bearing_point(bearing, 50.05, (10.0, -20.0))), bearing
    assert Point(10.0, -20.0).distance(disc.exterior) > 0.995 * 50


@pytest.mark.parametrize("fov", [0.5, 10, 45, 90, 179, 181, 271, 359.9, 360])
def test_sector_polygon_is_within_half_a_percent_of_range(fov):
    range_m = 80.0
    polygon = field_of_view((0.0, 0.0), 77, fov, range_m)
    arc = [bearing_point(77 - fov / 2 + fov * i / 4000, range_m) for i in range(4001)]
    exact = Polygon([p.coords[0] for p in arc] if fov == 360 else [(0.0, 0.0), *(p.coords[0] for p in arc)])
    assert polygon.is_valid
    assert polygon.hausdorff_distance(exact) < 0.005 * range_m


def test_point_just_inside_and_outside_range_and_edges():
    sector = field_of_view((0.0, 0.0), 120, 60, 80)
    assert sector.contains(bearing_point(120, 0.996 * 80))  # between arc vertices the chord is the limit
    assert not sector.contains(bearing_point(120, 80.5))
    assert sector.contains(bearing_point(149.5, 40))
    assert not sector.contains(bearing_point(150.5, 40))
    assert sector.contains(bearing_point(90.5, 40))
    assert not sector.contains(bearing_point(89.5, 40))


def test_bearing_0_faces_north_and_90_faces_east():
    north, east = field_of_view((0.0, 0.0), 0, 60, 50).centroid, field_of_view((0.0, 0.0), 90, 60, 50).centroid
    assert north.y > 20 and abs(north.x) < 1e-9
    assert east.x > 20 and abs(east.y) < 1e-9

    def in_view(bearing: float, incident: Point) -> bool:
        return sight(incident, [LensView(INCIDENT.x, INCIDENT.y, bearing, 60, 50)])[0].in_view

    north_of, south_of = at(30, 0), at(30, 180)
    east_of, west_of = at(30, 90), at(30, 270)
    assert north_of.y > INCIDENT.y and east_of.x > INCIDENT.x
    assert in_view(0, north_of) and not in_view(0, south_of) and not in_view(0, east_of)
    assert in_view(90, east_of) and not in_view(90, west_of) and not in_view(90, north_of)


# --------------------------------------------------------------------------- local frame and sight


def test_local_frame_measures_a_3_km_area_to_the_centimetre():
    rng = random.Random(3)
    points = [at(rng.uniform(0, 1500), rng.uniform(0, 360)) for _ in range(40)]
    frame = LocalFrame.around(shapely.MultiPoint(points))
    xs, ys = frame.to_metres([p.x for p in points], [p.y for p in points])
    for i in range(0, 40, 2):
        planar = math.hypot(xs[i] - xs[i + 1], ys[i] - ys[i + 1])
        assert planar == pytest.approx(geodesic(points[i], points[i + 1])[1], abs=0.01)
    lons, lats = frame.to_lon_lat(xs, ys)
    assert np.allclose(lons, [p.x for p in points], atol=1e-10) and np.allclose(lats, [p.y for p in points], atol=1e-10)


def test_sight_reports_distance_and_keeps_lenses_without_bearing():
    lens_point = at(120, 45)
    far_dome = LensView(lens_point.x, lens_point.y, None, 90, 30)
    facing_away = LensView(lens_point.x, lens_point.y, 45, 90, 200)
    facing = LensView(lens_point.x, lens_point.y, 225, 10, 200)
    sightings = sight(INCIDENT, [far_dome, facing_away, facing])
    assert [s.in_view for s in sightings] == [True, False, True]
    for s in sightings:
        assert s.distance_m == pytest.approx(120, abs=0.01)


def test_a_route_crossing_the_sector_is_seen_though_its_ends_are_not():
    lens_point = INCIDENT
    route = LineString([at(40, 300).coords[0], at(40, 60).coords[0]])  # passes 20 m north of the lens
    narrow = LensView(lens_point.x, lens_point.y, 0, 5, 30)
    short = LensView(lens_point.x, lens_point.y, 0, 5, 19)
    sightings = sight(route, [narrow, short])
    assert [s.in_view for s in sightings] == [True, False]
    assert sightings[0].distance_m == pytest.approx(20, abs=0.05)


@pytest.mark.parametrize("offset_deg, seen", [(0.02, True), (-0.02, True), (0.03, False), (-0.03, False)])
def test_sectors_far_from_the_frame_centre_still_face_true_north(offset_deg, seen):
    """A hair-thin sector 3 km from the frame centre, where meridians lean ~0.01° off the grid."""
    lens_point = INCIDENT
    target = at(499, offset_deg, lens_point)
    beyond = at(600, offset_deg, lens_point)
    route = LineString([target.coords[0], beyond.coords[0], at(6000, 90, beyond).coords[0]])
    lens = LensView(lens_point.x, lens_point.y, 0, 0.05, 500)
    assert sight(route, [lens])[0].in_view is seen


# --------------------------------------------------------------------------- registry builders


def wgs84(geometry):
    return from_shape(geometry, srid=4326)


def make_owner(session, key: str) -> Owner:
    owner = Owner(external_id=f"owner-{key}", kind=OwnerKind.HOUSEHOLD, name=f"Owner {key}")
    session.add(owner)
    return owner


def make_recorder(
    session, owner: Owner, key: str, retention_days: int = 14, status: RecorderStatus = RecorderStatus.ACTIVE
) -> Recorder:
    recorder = Recorder(
        external_id=f"rec-{key}", owner=owner, point=wgs84(INCIDENT), retention_days=retention_days, status=status
    )
    session.add(recorder)
    return recorder


def make_lens(
    session,
    recorder: Recorder,
    key: str,
    point: Point,
    bearing_deg: float | None = None,
    fov_deg: float = 60,
    range_m: float = 80,
    status: LensStatus = LensStatus.ACTIVE,
) -> Lens:
    lens = Lens(
        external_id=f"lens-{key}",
        recorder=recorder,
        point=wgs84(point),
        bearing_deg=bearing_deg,
        fov_deg=fov_deg,
        range_m=range_m,
        status=status,
    )
    session.add(lens)
    session.flush()
    return lens


def facing_lens(session, recorder: Recorder, key: str, distance_m: float, azimuth_deg: float = 0, **kwargs) -> Lens:
    """A lens `distance_m` from the incident, looking straight at it."""
    return make_lens(
        session, recorder, key, at(distance_m, azimuth_deg), bearing_deg=(azimuth_deg + 180) % 360, **kwargs
    )


def commitment(
    session,
    owner: Owner,
    *,
    recorders: list[Recorder] | None = None,
    signed_at: datetime = NOW - 100 * DAY,
    valid_until: datetime | None = None,
    revoked_at: datetime | None = None,
) -> SharingCommitment:
    row = SharingCommitment(
        owner=owner,
        all_recorders=recorders is None,
        recorders=recorders or [],
        signed_at=signed_at,
        valid_until=valid_until,
        revoked_at=revoked_at,
        channel=CommitmentChannel.PAPER,
        text_version="test",
    )
    session.add(row)
    session.flush()
    return row


def plan(
    session,
    incident=INCIDENT,
    radius_m: float = 100,
    window_start: datetime = NOW - 3 * DAY,
    window_end: datetime | None = None,
    deadline: datetime | None = None,
):
    window_end = window_end or window_start + timedelta(hours=2)
    return plan_routing(session, incident, radius_m, window_start, window_end, NOW, deadline)


# --------------------------------------------------------------------------- plan_routing: rules


def test_an_incident_must_be_a_point_a_line_or_a_polygon(session):
    for incident in (
        shapely.MultiPolygon([INCIDENT.buffer(0.001)]),
        shapely.MultiPoint([INCIDENT, at(10, 0)]),
        Point(),
    ):
        with pytest.raises(ValidationFailed) as refused:
            plan(session, incident)
        assert "incident" in refused.value.errors


def test_nothing_nearby_gives_an_empty_plan(session):
    result = plan(session)
    assert (result.considered, result.routes, result.skipped, result.routed) == (0, (), NO_SKIPS, 0)


def test_a_lens_facing_the_incident_is_routed_until_the_window_start_is_overwritten(session):
    owner = make_owner(session, "a")
    lens = facing_lens(session, make_recorder(session, owner, "a", retention_days=7), "a", 50, azimuth_deg=30)
    start = NOW - 3 * DAY
    result = plan(session, window_start=start)

    assert (result.considered, result.skipped, result.routed) == (1, NO_SKIPS, 1)
    (route,) = result.routes
    (routed,) = route.lenses
    assert (routed.lens_id, routed.recorder_id, routed.owner_id) == (lens.id, lens.recorder_id, owner.id)
    assert routed.distance_m == pytest.approx(50, abs=0.01)
    assert routed.preservation_deadline == start + 7 * DAY
    assert routed.partially_overwritten is False
    assert (route.owner_id, route.preservation_deadline, route.distance_m) == (
        owner.id,
        start + 7 * DAY,
        routed.distance_m,
    )


def test_when_the_window_start_is_gone_the_rest_is_asked_for_until_its_end_is(session):
    recorder = make_recorder(session, make_owner(session, "a"), "a", retention_days=7)
    facing_lens(session, recorder, "a", 50)
    end = NOW - 6 * DAY
    result = plan(session, window_start=NOW - 8 * DAY, window_end=end)

    (route,) = result.routes
    assert route.lenses[0].partially_overwritten is True
    assert route.preservation_deadline == route.lenses[0].preservation_deadline == end + 7 * DAY
    assert result.skipped == NO_SKIPS


def test_footage_overwritten_at_this_very_moment_still_counts(session):
    recorder = make_recorder(session, make_owner(session, "a"), "a", retention_days=7)
    facing_lens(session, recorder, "a", 50)

    def first_lens(window_start, window_end):
        routes = plan(session, window_start=window_start, window_end=window_end).routes
        return (routes[0].lenses[0].preservation_deadline, routes[0].lenses[0].partially_overwritten)

    assert first_lens(NOW - 7 * DAY, NOW - 6 * DAY) == (NOW, False)
    second = timedelta(seconds=1)
    assert first_lens(NOW - 7 * DAY - second, NOW - 6 * DAY) == (NOW + DAY, True)
    assert first_lens(NOW - 8 * DAY, NOW - 7 * DAY) == (NOW, True)


def test_a_window_wholly_overwritten_is_skipped(session):
    recorder = make_recorder(session, make_owner(session, "a"), "a", retention_days=7)
    facing_lens(session, recorder, "a", 50)
    result = plan(session, window_start=NOW - 9 * DAY, window_end=NOW - 7 * DAY - timedelta(seconds=1))
    assert (result.considered, result.routes) == (1, ())
    assert result.skipped == {**NO_SKIPS, "overwritten": 1}


def test_the_request_deadline_caps_the_preservation_deadline(session):
    owner = make_owner(session, "a")
    facing_lens(session, make_recorder(session, owner, "long", retention_days=30), "long", 50)
    facing_lens(session, make_recorder(session, owner, "short", retention_days=7), "partial", 60)
    cap = NOW + 12 * timedelta(hours=1)
    result = plan(session, window_start=NOW - 8 * DAY, window_end=NOW - 5 * DAY, deadline=cap)

    (route,) = result.routes
    assert [lens.preservation_deadline for lens in route.lenses] == [cap, cap]
    assert [lens.partially_overwritten for lens in route.lenses] == [False, True]
    assert route.preservation_deadline == cap

    later = plan(session, window_start=NOW - 8 * DAY, window_end=NOW - 5 * DAY, deadline=NOW + 100 * DAY)
    assert [lens.preservation_deadline for lens in later.routes[0].lenses] == [NOW + 22 * DAY, NOW + 2 * DAY]


def test_inactive_lenses_and_recorders_are_skipped(session):
    owner = make_owner(session, "a")
    working = make_recorder(session, owner, "working")
    broken = make_recorder(session, owner, "broken", status=RecorderStatus.OFFLINE)
    removed = make_recorder(session, owner, "removed", status=RecorderStatus.REMOVED)
    routed = facing_lens(session, working, "ok", 40)
    facing_lens(session, working, "offline", 40, azimuth_deg=90, status=LensStatus.OFFLINE)
    facing_lens(session, working, "removed", 40, azimuth_deg=180, status=LensStatus.REMOVED)
    facing_lens(session, broken, "on-broken", 40, azimuth_deg=270)
    facing_lens(session, removed, "on-removed", 40, azimuth_deg=45)

    result = plan(session)
    assert result.considered == 5
    assert result.skipped == {**NO_SKIPS, "inactive": 4}
    assert [lens.lens_id for route in result.routes for lens in route.lenses] == [routed.id]


def test_only_lenses_within_the_radius_that_could_see_the_incident_are_routed(session):
    recorder = make_recorder(session, make_owner(session, "a"), "a")
    seeing = facing_lens(session, recorder, "seeing", 60)
    make_lens(session, recorder, "away", at(60, 90), bearing_deg=90)  # east of it, facing further east
    facing_lens(session, recorder, "short-sighted", 70, azimuth_deg=180, range_m=30)
    dome = make_lens(session, recorder, "dome", at(90, 270), bearing_deg=None, range_m=20)
    facing_lens(session, recorder, "too-far", 130, azimuth_deg=200)

    result = plan(session, radius_m=100)
    assert result.considered == 4
    assert result.skipped == {**NO_SKIPS, "out_of_view": 2}
    assert [lens.lens_id for lens in result.routes[0].lenses] == [seeing.id, dome.id]


def test_each_lens_is_skipped_for_the_first_reason_that_holds(session):
    recorder = make_recorder(session, make_owner(session, "a"), "a", retention_days=7)
    make_lens(session, recorder, "inactive-and-away", at(50, 0), bearing_deg=0, status=LensStatus.OFFLINE)
    make_lens(session, recorder, "away-and-overwritten", at(50, 90), bearing_deg=90)
    facing_lens(session, recorder, "seeing-but-overwritten", 50, azimuth_deg=180)
    result = plan(session, window_start=NOW - 20 * DAY, window_end=NOW - 19 * DAY)
    assert result.skipped == {"inactive": 1, "out_of_view": 1, "overwritten": 1}
    assert result.considered == 3 and result.routes == ()


def test_a_route_incident_reaches_lenses_along_its_length(session):
    recorder = make_recorder(session, make_owner(session, "a"), "a")
    route = LineString([at(800, 270).coords[0], at(800, 90).coords[0]])
    west = make_lens(session, recorder, "west", at(30, 0, at(700, 270)), bearing_deg=180, range_m=40)
    east = make_lens(session, recorder, "east", at(30, 180, at(700, 90)), bearing_deg=0, range_m=40)
    make_lens(session, recorder, "east-away", at(30, 180, at(700, 90)), bearing_deg=180, range_m=40)
    result = plan(session, route, radius_m=50)
    assert sorted(lens.lens_id for lens in result.routes[0].lenses) == sorted([west.id, east.id])
    assert result.skipped == {**NO_SKIPS, "out_of_view": 1}
    assert [lens.distance_m for lens in result.routes[0].lenses] == pytest.approx([30, 30], abs=0.05)


# --------------------------------------------------------------------------- plan_routing: owners


def test_routes_group_lenses_by_owner_most_urgent_first_then_nearest(session):
    a, b, c, d, e = (make_owner(session, key) for key in "abcde")
    start = NOW - 2 * DAY
    a_far = facing_lens(session, make_recorder(session, a, "a30", retention_days=30), "a-far", 40, azimuth_deg=0)
    a_near = facing_lens(session, make_recorder(session, a, "a10", retention_days=10), "a-near", 20, azimuth_deg=90)
    b_lens = facing_lens(session, make_recorder(session, b, "b10", retention_days=10), "b", 10, azimuth_deg=180)
    c_lens = facing_lens(session, make_recorder(session, c, "c7", retention_days=7), "c", 60, azimuth_deg=270)
    # Same deadline, same point: the owner id breaks the tie.
    shared_spot = at(70, 45)
    d_lens = make_lens(session, make_recorder(session, d, "d20", retention_days=20), "d", shared_spot, bearing_deg=225)
    e_lens = make_lens(session, make_recorder(session, e, "e20", retention_days=20), "e", shared_spot, bearing_deg=225)

    result = plan(session, window_start=start)
    assert [route.owner_id for route in result.routes] == [c.id, b.id, a.id, *sorted([d.id, e.id])]
    by_owner = {route.owner_id: route for route in result.routes}
    assert [lens.lens_id for lens in by_owner[a.id].lenses] == [a_near.id, a_far.id]
    assert by_owner[a.id].preservation_deadline == start + 10 * DAY
    assert by_owner[a.id].distance_m == pytest.approx(20, abs=0.01)
    assert [lens.preservation_deadline for lens in by_owner[a.id].lenses] == [start + 10 * DAY, start + 30 * DAY]
    assert [lens.lens_id for lens in by_owner[b.id].lenses] == [b_lens.id]
    assert [lens.lens_id for lens in by_owner[c.id].lenses] == [c_lens.id]
    assert {by_owner[d.id].lenses[0].lens_id, by_owner[e.id].lenses[0].lens_id} == {d_lens.id, e_lens.id}
    assert result.routed == 6 and result.considered == 6


def test_covered_by_commitment_needs_every_recorder_involved_covered_now(session):
    owners = {
        key: make_owner(session, key) for key in ("all", "listed", "mixed", "none", "revoked", "expired", "future")
    }
    recorders = {key: make_recorder(session, owner, key) for key, owner in owners.items()}
    mixed_extra = make_recorder(session, owners["mixed"], "mixed-extra")
    make_recorder(session, owners["listed"], "listed-extra")  # not listed, but no lens of it is involved
    for i, recorder in enumerate([*recorders.values(), mixed_extra]):
        facing_lens(session, recorder, recorder.external_id, 10 + 5 * i, azimuth_deg=40 * i)
    commitment(session, owners["all"])
    commitment(session, owners["listed"], recorders=[recorders["listed"]])
    commitment(session, owners["mixed"], recorders=[recorders["mixed"]])
    commitment(session, owners["revoked"], revoked_at=NOW - DAY)
    commitment(session, owners["expired"], valid_until=NOW - DAY)
    commitment(session, owners["future"], signed_at=NOW + DAY)

    covered = {route.owner_id: route.covered_by_commitment for route in plan(session).routes}
    assert covered == {
        owners["all"].id: True,
        owners["listed"].id: True,
        owners["mixed"].id: False,
        owners["none"].id: False,
        owners["revoked"].id: False,
        owners["expired"].id: False,
        owners["future"].id: False,
    }


@contextmanager
def counted_selects(connection):
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    event.listen(connection, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(connection, "before_cursor_execute", count)


def test_planning_takes_three_queries_however_many_lenses_and_recorders(session):
    for o in range(20):
        owner = make_owner(session, f"o{o}")
        for r in range(3):
            recorder = make_recorder(session, owner, f"o{o}r{r}")
            facing_lens(session, recorder, f"o{o}r{r}", 5 + o * 3 + r, azimuth_deg=o * 17 + r * 120)
    commitment(session, owner)
    session.expire_all()
    with counted_selects(session.connection()) as selects:
        result = plan(session)
    assert result.routed == 60 and len(result.routes) == 20
    assert len(selects) == 3, selects  # lenses near, their recorders, which recorders are shared


# --------------------------------------------------------------------------- plan_routing against an oracle

CITY_CENTRE = INCIDENT
CITY_HALF_SIDE_M = 600
SAMPLE_STEP_M = 0.5
HALF_STEP_M = SAMPLE_STEP_M / 2
EDGE_M = 0.5  # borderline: this close to the radius or the range
EDGE_DEG = 0.2  # borderline: this close to a sector's side
# Metres per degree near the city (WGS84 meridional and normal radii at 21.02°N), for
# a coarse prefilter only: every kept decision is made on Geod's geodesics.
_SIN = math.sin(math.radians(CITY_CENTRE.y))
_M = 6378137.0 * (1 - 0.00669438) / (1 - 0.00669438 * _SIN**2) ** 1.5
_N = 6378137.0 / math.sqrt(1 - 0.00669438 * _SIN**2)
M_PER_DEG_LAT = math.radians(1) * _M
M_PER_DEG_LON = math.radians(1) * _N * math.cos(math.radians(CITY_CENTRE.y))
PREFILTER_MARGIN_M = 5.0


@dataclass(frozen=True)
class CityLens:
    id: int
    lon: float
    lat: float
    bearing: float | None
    fov: float
    range_m: float
    working: bool  # the lens and its recorder are active
    retention_days: int
    recorder_id: int
    owner_id: int


@dataclass(frozen=True)
class City:
    lenses: list[CityLens]
    shared_recorder_ids: set[int]


@pytest.fixture()
def random_city(session) -> City:
    """300 lenses in a 1.2 km square: random bearings (or none), sectors, statuses, owners and retention."""
    rng = random.Random(20260310)
    owners = [make_owner(session, f"city-{i}") for i in range(30)]
    recorders = [
        make_recorder(
            session,
            owners[i // 2],
            f"city-{i}",
            retention_days=rng.randint(7, 30),
            status=RecorderStatus.ACTIVE if rng.random() < 0.85 else RecorderStatus.OFFLINE,
        )
        for i in range(60)
    ]
    session.flush()
    shared = set()
    for owner_index, owner in enumerate(owners):
        own = recorders[2 * owner_index : 2 * owner_index + 2]
        roll = rng.random()
        if roll < 0.5:
            commitment(session, owner)
            shared.update(r.id for r in own)
        elif roll < 0.7:
            commitment(session, owner, recorders=own[:1])
            shared.add(own[0].id)
        elif roll < 0.8:
            commitment(session, owner, revoked_at=NOW - 3 * DAY)
    lenses = []
    for i in range(300):
        recorder = rng.choice(recorders)
        east, north = (rng.uniform(-CITY_HALF_SIDE_M, CITY_HALF_SIDE_M) for _ in range(2))
        point = at(math.hypot(east, north), math.degrees(math.atan2(east, north)) % 360, CITY_CENTRE)
        bearing = None if rng.random() < 0.2 else rng.uniform(0, 359.999)
        fov = 360.0 if rng.random() < 0.1 else rng.uniform(0.5, 359.5)
        status = rng.choices(list(LensStatus), weights=[0.85, 0.1, 0.05])[0]
        lens = Lens(
            external_id=f"city-lens-{i}",
            recorder=recorder,
            point=wgs84(point),
            bearing_deg=bearing,
            fov_deg=fov,
            range_m=rng.uniform(10, 100),
            status=status,
        )
        session.add(lens)
        lenses.append((lens, point))
    session.flush()
    return City(
        lenses=[
            CityLens(
                lens.id,
                point.x,
                point.y,
                lens.bearing_deg,
                lens.fov_deg,
                lens.range_m,
                lens.status == LensStatus.ACTIVE and lens.recorder.status == RecorderStatus.ACTIVE,
                lens.recorder.retention_days,
                lens.recorder.id,
                lens.recorder.owner_id,
            )
            for lens, point in lenses
        ],
        shared_recorder_ids=shared,
    )


def incident_samples(incident) -> tuple[np.ndarray, np.ndarray]:
    """The incident as points at most 0.5 m apart along its geodesic segments (an area's: its outline's)."""
    if isinstance(incident, Point):
        return np.array([incident.x]), np.array([incident.y])
    lons, lats = [], []
    coords = list((incident.exterior if isinstance(incident, Polygon) else incident).coords)
    for (lon1, lat1), (lon2, lat2) in zip(coords, coords[1:]):
        # By a point count, not a step: pyproj divides by zero when a segment is shorter than the step.
        length = GEOD.inv(lon1, lat1, lon2, lat2)[2]
        if length == 0:
            lons.append(lon1)
            lats.append(lat1)
            continue
        segment = GEOD.inv_intermediate(
            lon1,
            lat1,
            lon2,
            lat2,
            npts=math.ceil(length / SAMPLE_STEP_M) + 1,
            initial_idx=0,
            terminus_idx=0,
            return_back_azimuth=True,
        )
        lons.extend(segment.lons)
        lats.extend(segment.lats)
    return np.array(lons), np.array(lats)


def possible_outcomes(
    lens: CityLens,
    samples: tuple[np.ndarray, np.ndarray],
    half_step: float,
    radius_m: float,
    window_end: datetime,
    inside: bool = False,
) -> set[str]:
    """What the rule may do with this lens: one outcome when clear, several when it sits on an edge.

    'none' means outside the radius (not considered). Lenses on an edge (within
    0.5 m of the radius or range, 0.2° of a side, or where the 0.5 m sampling
    leaves doubt) are allowed any of the outcomes on either side. A lens
    `inside` an area incident is at distance 0 and sees part of it, whichever
    way it faces; outside, an area meets a sector that reaches its outline
    (a sector wholly inside the area starts at a lens inside it).
    """
    if inside:
        samples, half_step = (np.array([lens.lon]), np.array([lens.lat])), 0.0
    sample_lons, sample_lats = samples
    approx = np.hypot((sample_lons - lens.lon) * M_PER_DEG_LON, (sample_lats - lens.lat) * M_PER_DEG_LAT)
    near = approx <= approx.min() + PREFILTER_MARGIN_M
    _, _, distances = GEOD.inv(
        np.full(near.sum(), lens.lon),
        np.full(near.sum(), lens.lat),
        sample_lons[near],
        sample_lats[near],
        return_back_azimuth=True,
    )
    nearest = float(np.min(distances))
    if nearest <= radius_m - EDGE_M:
        within = {True}
    elif nearest - half_step > radius_m + EDGE_M:
        within = {False}
    else:
        within = {True, False}

    outcomes = {"none"} if False in within else set()
    if True not in within:
        return outcomes
    if not lens.working:
        return outcomes | {"inactive"}
    seen = (
        {True} if lens.bearing is None or inside else sector_states(lens, sample_lons, sample_lats, approx, half_step)
    )
    if False in seen:
        outcomes.add("out_of_view")
    if True in seen:
        overwritten = window_end + timedelta(days=lens.retention_days) < NOW
        outcomes.add("overwritten" if overwritten else "routed")
    return outcomes


def sector_states(lens: CityLens, sample_lons, sample_lats, approx, half_step: float) -> set[bool]:
    """{True} if a sample is clearly in the sector, {False} if none could be, else both."""
    reach = approx <= lens.range_m + PREFILTER_MARGIN_M
    if not reach.any():
        return {False}
    azimuths, _, distances = GEOD.inv(
        np.full(reach.sum(), lens.lon),
        np.full(reach.sum(), lens.lat),
        sample_lons[reach],
        sample_lats[reach],
        return_back_azimuth=True,
    )
    off_axis = np.abs((azimuths - lens.bearing + 180) % 360 - 180)
    half_fov = lens.fov / 2
    if np.any((distances <= lens.range_m - EDGE_M) & (off_axis <= half_fov - EDGE_DEG)):
        return {True}
    # A sample stands for the line within half a step of it, which a close lens sees at a wide angle.
    with np.errstate(divide="ignore", invalid="ignore"):
        spread = np.where(distances > half_step, np.degrees(np.arcsin(np.minimum(1, half_step / distances))), 180)
    if np.any((distances <= lens.range_m + EDGE_M + half_step) & (off_axis <= half_fov + EDGE_DEG + spread)):
        return {True, False}
    return {False}


def expected_preservation(lens: CityLens, window_start, window_end, deadline):
    retention = timedelta(days=lens.retention_days)
    partial = window_start + retention < NOW
    due = window_end + retention if partial else window_start + retention
    return (due if deadline is None else min(due, deadline)), partial


offsets = st.floats(-CITY_HALF_SIDE_M - 100, CITY_HALF_SIDE_M + 100)
city_points = st.builds(
    lambda east, north: (CITY_CENTRE.x + east / M_PER_DEG_LON, CITY_CENTRE.y + north / M_PER_DEG_LAT), offsets, offsets
)


@st.composite
def city_areas(draw) -> Polygon:
    """A star-shaped area (corners at increasing angles round a centre, so its outline never crosses itself),
    its corners 15-400 m from the centre: up to about the 0.5 km² an area request may cover."""
    centre_lon, centre_lat = draw(city_points)
    corners = draw(st.integers(3, 7))
    angles = sorted(draw(st.lists(st.floats(0, 2 * math.pi, exclude_max=True), min_size=corners, max_size=corners)))
    radii = draw(st.lists(st.floats(15, 400), min_size=corners, max_size=corners))
    return Polygon(
        [
            (centre_lon + r * math.sin(a) / M_PER_DEG_LON, centre_lat + r * math.cos(a) / M_PER_DEG_LAT)
            for a, r in zip(angles, radii)
        ]
    )


incidents = st.one_of(
    city_points.map(Point),
    st.lists(city_points, min_size=2, max_size=4, unique=True).map(LineString),
    city_areas().filter(lambda area: area.is_valid),
)


def test_plan_matches_a_brute_force_oracle(session, random_city):
    totals: Counter[str] = Counter()

    # Derandomised: 40 random draws now and then held no area with a lens certainly routed inside it (about one
    # run in eight), failing the check below that every outcome was exercised; a fixed draw exercises them all.
    @settings(max_examples=40, deadline=None, derandomize=True)
    @given(
        incident=incidents,
        radius_m=st.floats(20, 300),
        hours_ago=st.floats(0, 35 * 24),
        window_hours=st.floats(0, 72),
        deadline_hours=st.none() | st.floats(0, 30 * 24),
    )
    def check(incident, radius_m, hours_ago, window_hours, deadline_hours):
        window_start = NOW - timedelta(hours=hours_ago)
        window_end = min(NOW, window_start + timedelta(hours=window_hours))
        deadline = None if deadline_hours is None else NOW + timedelta(hours=deadline_hours)
        result = plan_routing(session, incident, radius_m, window_start, window_end, NOW, deadline)

        samples = incident_samples(incident)
        half_step = 0.0 if isinstance(incident, Point) else HALF_STEP_M
        area = isinstance(incident, Polygon)
        lenses = random_city.lenses
        within_area = shapely.contains_xy(incident, [lens.lon for lens in lenses], [lens.lat for lens in lenses])
        inside = {lens.id: bool(area and seen) for lens, seen in zip(lenses, within_area)}
        outcomes = {
            lens.id: possible_outcomes(lens, samples, half_step, radius_m, window_end, inside[lens.id])
            for lens in random_city.lenses
        }
        by_id = {lens.id: lens for lens in random_city.lenses}

        def bounds(outcome: str) -> tuple[int, int]:
            return (sum(o == {outcome} for o in outcomes.values()), sum(outcome in o for o in outcomes.values()))

        routed = {lens.lens_id: lens for route in result.routes for lens in route.lenses}
        certain = {i for i, o in outcomes.items() if o == {"routed"}}
        possible = {i for i, o in outcomes.items() if "routed" in o}
        assert certain <= set(routed) <= possible, (sorted(certain - set(routed)), sorted(set(routed) - possible))
        for reason in SkipReason:
            low, high = bounds(reason.value)
            assert low <= result.skipped[reason] <= high, (reason, result.skipped)
        considered_low = sum("none" not in o for o in outcomes.values())
        considered_high = sum(o != {"none"} for o in outcomes.values())
        assert considered_low <= result.considered <= considered_high
        assert result.considered == result.routed + sum(result.skipped.values())

        for lens_id, routed_lens in routed.items():
            lens = by_id[lens_id]
            assert (routed_lens.recorder_id, routed_lens.owner_id) == (lens.recorder_id, lens.owner_id)
            assert (routed_lens.preservation_deadline, routed_lens.partially_overwritten) == expected_preservation(
                lens, window_start, window_end, deadline
            )
            assert routed_lens.distance_m <= radius_m + EDGE_M
            assert routed_lens.distance_m < 0.01 or not inside[lens_id], "a lens inside the area is 0 m from it"
        for route in result.routes:
            assert {lens.owner_id for lens in route.lenses} == {route.owner_id}
            assert route.preservation_deadline == min(lens.preservation_deadline for lens in route.lenses)
            assert route.covered_by_commitment == all(
                lens.recorder_id in random_city.shared_recorder_ids for lens in route.lenses
            )
        keys = [(r.preservation_deadline, r.distance_m, r.owner_id) for r in result.routes]
        assert keys == sorted(keys) and len({r.owner_id for r in result.routes}) == len(keys)

        totals.update(
            {
                "routed": len(certain),
                "out_of_view": bounds("out_of_view")[0],
                "overwritten": bounds("overwritten")[0],
                "inactive": bounds("inactive")[0],
                "borderline": sum(len(o) > 1 for o in outcomes.values()),
                "considered": considered_high,
                "routed inside an area": sum(inside[i] for i in certain),
                "routed from outside an area": len(certain) - sum(inside[i] for i in certain) if area else 0,
            }
        )

    check()
    # The comparison only means something if every outcome was really exercised.
    exercised = (
        "routed",
        "out_of_view",
        "overwritten",
        "inactive",
        "routed inside an area",
        "routed from outside an area",
    )
    assert min(totals[k] for k in exercised) > 0, totals
    assert totals["borderline"] < 0.1 * totals["considered"], totals


@pytest.mark.parametrize("half_m", [0.5, 3_000, 30_000])
def test_the_fitted_inverse_stays_within_a_centimetre_of_the_exact_one(half_m):
    """Commune drawings go back to lon/lat through a bicubic fitted over their box (LocalFrame.to_lon_lat_within)."""
    frame = LocalFrame(105.85, 21.03)
    fitted = frame.to_lon_lat_within((1_000 - half_m, -half_m, 1_000 + half_m, half_m))
    assert fitted != frame.to_lon_lat
    rng = np.random.default_rng(7)
    xs, ys = rng.uniform(1_000 - half_m, 1_000 + half_m, 5_000), rng.uniform(-half_m, half_m, 5_000)
    back_xs, back_ys = frame.to_metres(*fitted(xs, ys))
    assert np.hypot(back_xs - xs, back_ys - ys).max() < 0.01


def test_a_box_too_wide_or_empty_to_fit_gets_the_exact_inverse():
    frame = LocalFrame(105.85, 21.03)
    assert frame.to_lon_lat_within((-2e6, -2e6, 2e6, 2e6)) == frame.to_lon_lat
    assert frame.to_lon_lat_within((np.nan,) * 4) == frame.to_lon_lat
