"""Timed routes: when the target could have been in each lens's view, against a brute-force oracle; the windows
alone, and the routing rule using them on the run's backend.

The oracle does not use the code under test: it samples the route every metre along its geodesics (pyproj),
tests each sample against the lens's field of view drawn with Shapely in an azimuthal frame centred on the
lens, and dates each sample from the speed range between the timed vertices around it.
"""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from pyproj import Geod, Transformer
from shapely import LineString, Point, Polygon, contains_xy
from test_routing import make_lens, make_owner, make_recorder

from camera_registry.geo.sectors import LensView
from camera_registry.services.route_timing import RouteTiming, lens_windows, passing_band
from camera_registry.services.routing import plan_routing

GEOD = Geod(ellps="WGS84")
ORIGIN = (105.85, 21.02)
T0 = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)
SECOND = 1.0


def at(distance_m: float, azimuth_deg: float, origin=ORIGIN) -> tuple[float, float]:
    lon, lat, _ = GEOD.fwd(origin[0], origin[1], azimuth_deg, distance_m)
    return lon, lat


# --------------------------------------------------------------------------- the oracle


def samples_every_metre(vertices) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[float]]:
    """lon, lat and metres along the route of samples 1 m apart on each leg's geodesic; each vertex's metres."""
    lons, lats, along, vertex_m = [vertices[0][0]], [vertices[0][1]], [0.0], [0.0]
    for (lon_a, lat_a), (lon_b, lat_b) in zip(vertices, vertices[1:]):
        azimuth, _, length = GEOD.inv(lon_a, lat_a, lon_b, lat_b)
        steps = np.arange(1.0, length, 1.0)
        leg_lons, leg_lats, _ = GEOD.fwd(
            np.full(len(steps), lon_a), np.full(len(steps), lat_a), np.full(len(steps), azimuth), steps
        )
        lons += [*leg_lons, lon_b]
        lats += [*leg_lats, lat_b]
        along += [*(vertex_m[-1] + steps), vertex_m[-1] + length]
        vertex_m.append(vertex_m[-1] + length)
    return np.array(lons), np.array(lats), np.array(along), vertex_m


def oracle_view(lens: LensView, radius_m: float, scale: float, grow_m: float = 0.0) -> tuple[Transformer, Polygon]:
    """The lens's view in metres around it: a sector with a fine arc, or a disc; `scale` shrinks its range,
    `grow_m` widens it all round."""
    frame = Transformer.from_pipeline(
        f"+proj=pipeline +step +proj=unitconvert +xy_in=deg +xy_out=rad "
        f"+step +proj=aeqd +lon_0={lens.lon} +lat_0={lens.lat} +ellps=WGS84"
    )
    if lens.bearing_deg is None:
        angles, reach, apex = np.linspace(0, 360, 3601), radius_m * scale, []
    else:
        half = lens.fov_deg / 2
        angles, reach = np.linspace(lens.bearing_deg - half, lens.bearing_deg + half, 2001), lens.range_m * scale
        apex = [] if lens.fov_deg >= 360 else [(0.0, 0.0)]
    arc = [(reach * math.sin(math.radians(a)), reach * math.cos(math.radians(a))) for a in angles]
    return frame, Polygon(apex + arc).buffer(grow_m) if grow_m else Polygon(apex + arc)


def oracle_time(vertex_m, times, slow_kmh, fast_kmh, d: float) -> tuple[float, float]:
    """Earliest and latest POSIX second at `d` metres along: from the timed vertex before and the one after."""
    slow, fast = slow_kmh / 3.6, fast_kmh / 3.6
    timed = [(vertex_m[i], t.timestamp()) for i, t in enumerate(times) if t is not None]
    before = [(m, s) for m, s in timed if m <= d]
    after = [(m, s) for m, s in timed if m >= d]
    if not before:
        m, s = after[0]
        return s - (m - d) / slow, s - (m - d) / fast
    if not after:
        m, s = before[-1]
        return s + (d - m) / fast, s + (d - m) / slow
    (m_a, s_a), (m_b, s_b) = before[-1], after[0]
    if m_a == m_b:
        return min(s_a, s_b), max(s_a, s_b)  # a stop: from arriving to leaving
    speed = (m_b - m_a) / (s_b - s_a)
    low, high = min(slow, speed), max(fast, speed)
    return max(s_a + (d - m_a) / high, s_b - (m_b - d) / low), min(s_a + (d - m_a) / low, s_b - (m_b - d) / high)


def oracle_windows(samples, vertex_m, timing: RouteTiming, view, start: datetime, end: datetime):
    """Runs of samples in view, dated and widened by the margin, joined where they overlap, clipped."""
    lons, lats, along = samples
    frame, polygon = view
    xs, ys = frame.transform(lons, lats)
    seen = contains_xy(polygon, xs, ys)
    margin = timing.margin_minutes * 60
    runs, first = [], None
    for k, inside in enumerate([*seen.tolist(), False]):
        if inside and first is None:
            first = k
        elif not inside and first is not None:
            early = oracle_time(vertex_m, timing.times, timing.min_speed_kmh, timing.max_speed_kmh, along[first])[0]
            late = oracle_time(vertex_m, timing.times, timing.min_speed_kmh, timing.max_speed_kmh, along[k - 1])[1]
            runs.append((early - margin, late + margin))
            first = None
    joined = []
    for low, high in sorted(runs):
        low, high = max(low, start.timestamp()), min(high, end.timestamp())
        if low > high:
            continue
        if joined and low <= joined[-1][1] + SECOND:
            joined[-1][1] = max(joined[-1][1], high)
        else:
            joined.append([low, high])
    return joined


def covered(inner, outer, slack: float) -> bool:
    """Every interval of `inner` lies within one of `outer`, give or take `slack` seconds."""
    return all(any(lo - slack <= a and b <= hi + slack for lo, hi in outer) for a, b in inner)


def random_case(rng: random.Random):
    vertices = [ORIGIN]
    azimuth = rng.uniform(0, 360)
    for _ in range(rng.randint(1, 5)):
        azimuth += rng.uniform(-100, 100)
        vertices.append(at(rng.uniform(80, 400), azimuth, vertices[-1]))
    if rng.random() < 0.2:  # back through where it came from: views entered twice
        vertices.append(at(rng.uniform(50, 300), azimuth + 180 + rng.uniform(-5, 5), vertices[-1]))
    slow, fast = rng.uniform(10, 20), rng.uniform(25, 70)
    marked = sorted(rng.sample(range(len(vertices)), rng.randint(2, len(vertices))))
    clock, times = T0, [None] * len(vertices)
    previous = None
    for i in marked:
        if previous is not None:
            length = sum(GEOD.inv(*vertices[j], *vertices[j + 1])[2] for j in range(previous, i))
            clock += timedelta(seconds=length / (rng.uniform(slow * 0.7, fast * 1.2) / 3.6))
        times[i], previous = clock, i
    timing = RouteTiming(tuple(times), slow, fast, rng.choice([0.0, 0.5, 2.0]))
    lenses = []
    for _ in range(25):
        leg = rng.randrange(len(vertices) - 1)
        near = at(
            rng.uniform(0, GEOD.inv(*vertices[leg], *vertices[leg + 1])[2]),
            GEOD.inv(*vertices[leg], *vertices[leg + 1])[0],
            vertices[leg],
        )
        place = at(rng.uniform(0, 90), rng.uniform(0, 360), near)
        bearing = None if rng.random() < 0.15 else rng.uniform(0, 360)
        lenses.append(LensView(*place, bearing, rng.choice([20.0, 60.0, 110.0, 200.0, 360.0]), rng.uniform(20, 100)))
    known = [t for t in times if t is not None]
    start = known[0] - timedelta(minutes=rng.choice([0, 1, 10]))
    end = known[-1] + timedelta(minutes=rng.choice([0, 1, 10]))
    return vertices, timing, lenses, start, end


@pytest.mark.parametrize("seed", range(12))
def test_lens_windows_match_a_brute_force_sampling_every_metre(seed):
    rng = random.Random(seed)
    vertices, timing, lenses, start, end = random_case(rng)
    radius_m = 60.0
    windows = lens_windows(LineString(vertices), timing, lenses, radius_m, start, end)
    samples = samples_every_metre(vertices)
    lons, lats, along, vertex_m = samples
    compared = 0
    for lens, found in zip(lenses, windows):
        nearest = GEOD.inv(np.full(len(lons), lens.lon), np.full(len(lats), lens.lat), lons, lats)[2].min()
        if lens.bearing_deg is None and nearest > radius_m + 1:
            continue  # beyond the radius: never considered, so never routed
        got = [(a.timestamp(), b.timestamp()) for a, b in found]
        outer = oracle_windows((lons, lats, along), vertex_m, timing, oracle_view(lens, radius_m, 1.0, 0.5), start, end)
        inner = oracle_windows((lons, lats, along), vertex_m, timing, oracle_view(lens, radius_m, 0.995), start, end)
        # The code's sector has chords for an arc (at most 0.5 % of range short): it sees at least the inner
        # view and at most the outer one, grown by half the sampling step so that no stretch slips between samples.
        assert covered(got, outer, SECOND), (seed, lens, got, outer)
        assert covered(inner, got, SECOND), (seed, lens, got, inner)
        compared += bool(inner)
    assert compared


def test_a_route_timed_at_both_ends_dates_its_middle_between_the_speeds():
    route = LineString([ORIGIN, at(1000, 90)])
    lens = at(20, 0, at(500, 90))
    timing = RouteTiming((T0, T0 + timedelta(minutes=2)), 3, 60, 0)
    [[(start, end)]] = lens_windows(
        route, timing, [LensView(*lens, 180, 60, 50)], 150, T0 - timedelta(hours=1), T0 + timedelta(hours=1)
    )
    # The view covers 488.5..511.5 m: at 60 km/h from the start, at least 3 km/h from the end's time.
    assert (start - T0).total_seconds() == pytest.approx(488.45 / (60 / 3.6), abs=0.2)
    assert (end - T0).total_seconds() == pytest.approx(120 - 488.45 / (60 / 3.6), abs=0.2)


def test_at_one_speed_the_window_is_the_crossing_widened_by_the_margin_and_clipped():
    route = LineString([ORIGIN, at(1000, 90)])
    lens = LensView(*at(20, 0, at(500, 90)), 180, 60, 50)
    timing = RouteTiming((T0, None), 30, 30, 1)
    [[(start, end)]] = lens_windows(route, timing, [lens], 150, T0 - timedelta(hours=1), T0 + timedelta(hours=1))
    assert (start - T0).total_seconds() == pytest.approx(488.45 / (30 / 3.6) - 60, abs=0.2)
    assert (end - T0).total_seconds() == pytest.approx(511.55 / (30 / 3.6) + 60, abs=0.2)
    [[(start, end)]] = lens_windows(route, timing, [lens], 150, T0, T0 + timedelta(seconds=30))
    assert (start, end) == (T0, T0 + timedelta(seconds=30))
    assert lens_windows(route, timing, [lens], 150, T0 + timedelta(minutes=5), T0 + timedelta(minutes=6)) == [[]]


def test_a_route_entering_a_view_twice_gives_two_windows_or_one_when_they_overlap():
    out_and_back = LineString([ORIGIN, at(1000, 90), ORIGIN])
    lens = LensView(*at(20, 0, at(300, 90)), 180, 60, 50)
    one_speed = RouteTiming((T0, None, None), 36, 36, 0)  # 10 m/s: seen near 30 s and near 170 s
    [windows] = lens_windows(out_and_back, one_speed, [lens], 150, T0, T0 + timedelta(hours=1))
    assert len(windows) == 2
    assert (windows[0][0] - T0).total_seconds() == pytest.approx(28.85, abs=0.2)
    assert (windows[1][1] - T0).total_seconds() == pytest.approx(171.15, abs=0.2)
    wide_margin = RouteTiming((T0, None, None), 36, 36, 2)
    [windows] = lens_windows(out_and_back, wide_margin, [lens], 150, T0, T0 + timedelta(hours=1))
    assert len(windows) == 1


def test_the_band_meets_each_timed_vertex_and_trusts_times_faster_than_the_range():
    vertex_m = np.array([0.0, 1000.0, 2000.0])
    timing = RouteTiming((T0, T0 + timedelta(seconds=20), None), 3, 60)  # 50 m/s, faster than 60 km/h
    early, late = passing_band(vertex_m, timing, np.array([0.0, 500.0, 1000.0, 1500.0]))
    base = T0.timestamp()
    assert early[0] == late[0] == base and early[2] == late[2] == base + 20
    assert early[1] == pytest.approx(base + 10) and late[1] == pytest.approx(base + 10)
    assert early[3] == pytest.approx(base + 20 + 500 / (60 / 3.6)) and late[3] == pytest.approx(
        base + 20 + 500 / (3 / 3.6)
    )


def test_a_stop_between_two_times_at_one_place_spans_the_stop():
    vertex_m = np.array([0.0, 100.0, 100.0, 200.0])
    times = (T0, T0 + timedelta(seconds=10), T0 + timedelta(minutes=5), T0 + timedelta(minutes=5, seconds=10))
    early, late = passing_band(vertex_m, RouteTiming(times, 3, 60), np.array([100.0]))
    assert (early[0], late[0]) == (T0.timestamp() + 10, T0.timestamp() + 300)


# --------------------------------------------------------------------------- plan_routing against the oracle


@pytest.mark.parametrize("seed", range(4))
def test_plan_routing_asks_each_lens_for_the_oracles_window(session, seed):
    """The routing rule on a timed route, on the run's backend: a lens is routed when the oracle sees the target
    in its view within the window, its window spans the oracle's, and its deadline is its window's start plus
    the retention."""
    rng = random.Random(100 + seed)
    vertices, timing, views, start, end = random_case(rng)
    radius_m = 150.0
    owner = make_owner(session, f"timed-{seed}")
    recorder = make_recorder(session, owner, f"timed-{seed}", retention_days=14)
    lenses = [
        make_lens(
            session, recorder, f"{seed}-{k}", Point(view.lon, view.lat), view.bearing_deg, view.fov_deg, view.range_m
        )
        for k, view in enumerate(views)
    ]
    session.flush()
    plan = plan_routing(session, LineString(vertices), radius_m, start, end, T0 + timedelta(days=1), timing=timing)
    routed = {lens.lens_id: lens for route in plan.routes for lens in route.lenses}
    assert routed and plan.considered == len(lenses) and plan.skipped["overwritten"] == 0
    lons, lats, along, vertex_m = samples_every_metre(vertices)
    for lens, view in zip(lenses, views):
        outer = oracle_windows((lons, lats, along), vertex_m, timing, oracle_view(view, radius_m, 1.0, 0.5), start, end)
        inner = oracle_windows((lons, lats, along), vertex_m, timing, oracle_view(view, radius_m, 0.995), start, end)
        if not outer:
            assert lens.id not in routed, view
            continue
        if inner:
            assert lens.id in routed, view
        if lens.id in routed:
            got = routed[lens.id]
            assert outer[0][0] - SECOND <= got.window_start.timestamp() <= (inner or outer)[0][0] + SECOND, view
            assert (inner or outer)[-1][1] - SECOND <= got.window_end.timestamp() <= outer[-1][1] + SECOND, view
            assert got.preservation_deadline == got.window_start + timedelta(days=14)
