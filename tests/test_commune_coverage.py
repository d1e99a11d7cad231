"""Coverage per commune (services/commune_coverage.py, geo/coverage.py) against a brute-force oracle written
apart from geo/sectors.py: points every 2 m over a small commune, and every metre along its roads, each tested
against each lens on the ellipsoid (pyproj.Geod's distance and azimuth). And after every kind of write, the
incremental refresh stores what a full recompute gives.

Tolerance: a field of view is drawn with its arc as chords at most 10° apart (inside the true sector by < 0.5 %
of the range) and the oracle's grid counts 2 m cells whole, so area shares agree within 0.01 of the commune and
road shares within 0.005 of its road length."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
import shapely
from geoalchemy2.shape import from_shape
from pyproj import Geod
from registry_support import admin_unit
from shapely import LineString, MultiPolygon, Point, box, clip_by_rect
from shapely.geometry import mapping, shape
from sqlalchemy import func, select, text, update
from sqlalchemy.orm import sessionmaker

from camera_registry.db import READ, make_engine, make_session_factory, open_session, write_unit
from camera_registry.geo.mapview import degrees_per_pixel
from camera_registry.models import (
    AdminLevel,
    CommitmentChannel,
    CommuneCoverage,
    CoverageMark,
    Lens,
    LensStatus,
    Owner,
    OwnerKind,
    Recorder,
    Road,
    SharingCommitment,
)
from camera_registry.models.base import utcnow
from camera_registry.services import commune_coverage, commune_figures
from camera_registry.services.commune_coverage import (
    DRAWING_ZOOMS,
    compute_now,
    coverage_figures,
    coverage_shapes,
    recompute_coverage,
    refresh_coverage,
)
from camera_registry.services.roads import clear_roads, load_roads

GEOD = Geod(ellps="WGS84")
#: Two small communes side by side (about 311 m x 277 m each), S west of T.
S_BOX = (105.9000, 21.1000, 105.9030, 21.1025)
T_BOX = (105.9030, 21.1000, 105.9060, 21.1025)
GRID_M = 2.0
AREA_TOLERANCE, ROAD_TOLERANCE = 0.01, 0.005


@dataclass
class Town:
    s: object
    t: object
    owners: dict
    recorders: dict


def _owner(session, commune, tag: str, shared: bool, now: datetime) -> Owner:
    owner = Owner(external_id=f"cov-owner-{tag}", kind=OwnerKind.HOUSEHOLD, name=f"Chủ {tag}", commune=commune)
    session.add(owner)
    if shared:
        session.add(
            SharingCommitment(
                owner=owner,
                all_recorders=True,
                signed_at=now - timedelta(days=10),
                valid_until=now + timedelta(days=300),
                channel=CommitmentChannel.PAPER,
                text_version="2025.1",
            )
        )
    return owner


@pytest.fixture()
def town(session) -> Town:
    return make_town(session)


def make_town(session) -> Town:
    province = admin_unit("CP", "Tỉnh Phủ", AdminLevel.PROVINCE)
    s = admin_unit("CS", "Xã S", parent=province, bounds=S_BOX)
    t = admin_unit("CT", "Xã T", parent=province, bounds=T_BOX)
    session.add_all([province, s, t])
    now = utcnow()
    owners = {"shared": _owner(session, s, "shared", True, now), "private": _owner(session, s, "private", False, now)}
    recorders = {}
    for tag, (owner, commune, lon, lat) in {
        "s": (owners["shared"], s, 105.9010, 21.1010),
        "p": (owners["private"], s, 105.9020, 21.1015),
        "t": (owners["shared"], t, 105.9040, 21.1012),
    }.items():
        recorders[tag] = Recorder(
            external_id=f"cov-rec-{tag}",
            owner=owner,
            commune=commune,
            retention_days=14,
            point=from_shape(Point(lon, lat), srid=4326),
        )
    session.add_all(recorders.values())
    session.flush()
    return Town(s, t, owners, recorders)


def add_lens(session, town, tag, recorder, lon, lat, bearing, fov=90.0, range_m=40.0, commune=None, **extra):
    lens = Lens(
        external_id=f"cov-lens-{tag}",
        recorder=town.recorders[recorder],
        commune=commune or town.recorders[recorder].commune,
        point=from_shape(Point(lon, lat), srid=4326),
        bearing_deg=bearing,
        fov_deg=fov,
        range_m=range_m,
        **extra,
    )
    session.add(lens)
    session.flush()
    return lens


def some_lenses(session, town) -> dict[str, Lens]:
    """Shared and private lenses in S, one all round, and one in T by the border looking west into S."""
    return {
        "north": add_lens(session, town, "north", "s", 105.9010, 21.1010, 0.0),
        "wide": add_lens(session, town, "wide", "s", 105.9012, 21.1008, 200.0, fov=120.0, range_m=60.0),
        "round": add_lens(session, town, "round", "s", 105.9005, 21.1020, None, range_m=25.0),
        "private": add_lens(session, town, "private", "p", 105.9020, 21.1015, 135.0, fov=60.0, range_m=50.0),
        "across": add_lens(session, town, "across", "t", 105.9032, 21.1012, 270.0, fov=80.0, range_m=45.0),
    }


# --------------------------------------------------------------------------- the oracle


def _in_view(lons, lats, lens: Lens, lon: float, lat: float) -> np.ndarray:
    """Which points lie in the lens's view: within its range and, with a bearing, within half its angle of it."""
    azimuths, _, distances = GEOD.inv(np.full_like(lons, lon), np.full_like(lats, lat), lons, lats)
    seen = distances <= lens.range_m
    if lens.bearing_deg is not None and lens.fov_deg < 360:
        off = (azimuths - lens.bearing_deg + 180.0) % 360.0 - 180.0
        seen &= np.abs(off) <= lens.fov_deg / 2
    return seen


def _lens_lon_lat(lens: Lens) -> tuple[float, float]:
    from geoalchemy2.shape import to_shape

    point = to_shape(lens.point)
    return point.x, point.y


def oracle_area_shares(bounds, lenses, shared) -> tuple[float, float]:
    """The share of the box's grid points (every GRID_M metres) seen by any lens, and by any shared one."""
    min_lon, min_lat, max_lon, max_lat = bounds
    _, _, width = GEOD.inv(min_lon, min_lat, max_lon, min_lat)
    _, _, height = GEOD.inv(min_lon, min_lat, min_lon, max_lat)
    lon_steps = np.linspace(min_lon, max_lon, int(width / GRID_M) + 1)[:-1]
    lat_steps = np.linspace(min_lat, max_lat, int(height / GRID_M) + 1)[:-1]
    lon_steps = lon_steps + (lon_steps[1] - lon_steps[0]) / 2
    lat_steps = lat_steps + (lat_steps[1] - lat_steps[0]) / 2
    lons, lats = (grid.ravel() for grid in np.meshgrid(lon_steps, lat_steps))
    return _shares(lons, lats, lenses, shared)


def _shares(lons, lats, lenses, shared) -> tuple[float, float]:
    seen, seen_shared = np.zeros(len(lons), bool), np.zeros(len(lons), bool)
    for lens in lenses:
        view = _in_view(lons, lats, lens, *_lens_lon_lat(lens))
        seen |= view
        if lens.id in shared:
            seen_shared |= view
    return seen.mean(), seen_shared.mean()


def oracle_road_shares(roads: list[LineString], bounds, lenses, shared) -> tuple[float, float]:
    """The share of points every metre along the roads, inside the box, seen by any lens, and by a shared one."""
    lons, lats = [], []
    for road in roads:
        (lon0, lat0), (lon1, lat1) = road.coords
        _, _, length = GEOD.inv(lon0, lat0, lon1, lat1)
        points = np.array(GEOD.npts(lon0, lat0, lon1, lat1, int(length)))
        lons.append(points[:, 0])
        lats.append(points[:, 1])
    lons, lats = np.concatenate(lons), np.concatenate(lats)
    min_lon, min_lat, max_lon, max_lat = bounds
    inside = (lons >= min_lon) & (lons <= max_lon) & (lats >= min_lat) & (lats <= max_lat)
    return _shares(lons[inside], lats[inside], lenses, shared)


def active(lenses) -> list[Lens]:
    return [lens for lens in lenses.values() if lens.status == LensStatus.ACTIVE]


def shared_ids(town, lenses) -> set[int]:
    return {lens.id for lens in active(lenses) if lens.recorder.owner is town.owners["shared"]}


# --------------------------------------------------------------------------- against the oracle


def test_area_shares_agree_with_the_brute_force_oracle(session, town):
    lenses = some_lenses(session, town)
    figures = coverage_figures(session, [town.s.id, town.t.id], utcnow())
    for commune, bounds in ((town.s, S_BOX), (town.t, T_BOX)):
        seen, seen_shared = oracle_area_shares(bounds, active(lenses), shared_ids(town, lenses))
        got = figures[commune.id]
        assert got.seen_share == pytest.approx(seen, abs=AREA_TOLERANCE)
        assert got.shared_seen_share == pytest.approx(seen_shared, abs=AREA_TOLERANCE)
        assert got.road_km is None and got.road_seen_share is None
        assert not got.stale
    assert figures[town.s.id].seen_share > figures[town.s.id].shared_seen_share > 0.05
    assert figures[town.s.id].area_km2 == pytest.approx(0.311 * 0.2775, rel=0.01)


def test_a_neighbours_lens_by_the_border_sees_into_the_commune(session, town):
    across = add_lens(session, town, "across", "t", 105.9032, 21.1012, 270.0, fov=80.0, range_m=45.0)
    (computed,) = compute_now(session, [town.s.id], utcnow())
    seen, seen_shared = oracle_area_shares(S_BOX, [across], {across.id})
    assert seen > 0.005
    assert computed.cover.seen_km2 / computed.cover.area_km2 == pytest.approx(seen, abs=AREA_TOLERANCE)
    assert computed.cover.shared_seen_km2 == pytest.approx(computed.cover.seen_km2)


@pytest.mark.parametrize("status", [LensStatus.OFFLINE, LensStatus.REMOVED])
def test_lenses_not_active_see_nothing(session, town, status):
    lenses = some_lenses(session, town)
    for lens in lenses.values():
        lens.status = status
    session.flush()
    figures = coverage_figures(session, [town.s.id], utcnow())[town.s.id]
    assert figures.seen_km2 == figures.shared_seen_km2 == 0
    assert figures.seen_share == 0


def test_the_shared_part_follows_the_commitment_and_changes_when_it_ends_with_no_write(session, town):
    lenses = some_lenses(session, town)
    now = utcnow()
    commitment = session.scalar(select(SharingCommitment).where(SharingCommitment.owner == town.owners["shared"]))
    ends = now + timedelta(hours=1)
    commitment.valid_until = ends
    session.flush()
    commune_figures.refresh(session, now)
    refresh_coverage(session, now)
    stored = session.get(CommuneCoverage, town.s.id)
    assert stored.exact_until == ends
    before = coverage_figures(session, [town.s.id], now)[town.s.id]
    assert before.shared_seen_km2 > 0 and not before.stale
    later = now + timedelta(hours=2)
    waiting = coverage_figures(session, [town.s.id], later)[town.s.id]
    assert waiting.stale and waiting.shared_seen_km2 == before.shared_seen_km2
    assert refresh_coverage(session, later)["coverage_stored"] == 2
    after = coverage_figures(session, [town.s.id], later)[town.s.id]
    assert not after.stale and after.shared_seen_km2 == 0 and after.seen_km2 == pytest.approx(before.seen_km2)
    seen, _ = oracle_area_shares(S_BOX, active(lenses), set())
    assert after.seen_share == pytest.approx(seen, abs=AREA_TOLERANCE)


#: Two streets: one along S past its lenses, one from S across the border into T.
ROADS = [
    LineString([(105.9001, 21.1011), (105.9029, 21.1011)]),
    LineString([(105.9008, 21.1003), (105.9055, 21.1022)]),
]


def road_file(roads=ROADS, **properties) -> dict:
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"name": f"Phố {i}", "highway": "residential", **properties},
                "geometry": mapping(road),
            }
            for i, road in enumerate(roads)
        ],
    }


def test_road_shares_agree_with_the_brute_force_oracle(session, town):
    lenses = some_lenses(session, town)
    counts = load_roads(session, road_file(), "test extract", utcnow())
    assert counts == {"roads_loaded": 2, "communes_marked": 2}
    figures = coverage_figures(session, [town.s.id, town.t.id], utcnow())
    for commune, bounds in ((town.s, S_BOX), (town.t, T_BOX)):
        seen, seen_shared = oracle_road_shares(ROADS, bounds, active(lenses), shared_ids(town, lenses))
        got = figures[commune.id]
        assert got.road_seen_share == pytest.approx(seen, abs=ROAD_TOLERANCE)
        assert got.road_shared_seen_share == pytest.approx(seen_shared, abs=ROAD_TOLERANCE)
    inside_s = sum(GEOD.geometry_length(clip_by_rect(road, *S_BOX)) for road in ROADS) / 1000
    assert figures[town.s.id].road_km == pytest.approx(inside_s, rel=1e-3)
    assert figures[town.s.id].road_seen_share > figures[town.s.id].road_shared_seen_share > 0


def test_a_multilinestring_road_is_stored_a_line_a_part_with_its_name_and_kind(session, town):
    document = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"name": "Đường Láng", "highway": "primary", "oneway": "yes"},
                "geometry": {"type": "MultiLineString", "coordinates": [list(road.coords) for road in ROADS]},
            }
        ],
    }
    assert load_roads(session, document, "osm", utcnow())["roads_loaded"] == 2
    assert set(session.execute(select(Road.name, Road.kind, Road.source))) == {("Đường Láng", "primary", "osm")}
    assert clear_roads(session)["roads_removed"] == 2
    assert session.scalar(select(func.count()).select_from(Road)) == 0


BAD_FEATURES = {
    "a point": ({"type": "Point", "coordinates": [105.9, 21.1]}, "not Point"),
    "no geometry": (None, "not nothing"),
    "one position": ({"type": "LineString", "coordinates": [[105.9, 21.1]]}, "at least two positions"),
    "lat before lon": ({"type": "LineString", "coordinates": [[21.1, 105.9], [21.2, 105.9]]}, "outside Vietnam"),
    "text coordinates": ({"type": "LineString", "coordinates": [["105.9", 21.1], [105.91, 21.1]]}, "not a position"),
}


@pytest.mark.parametrize("bad", BAD_FEATURES, ids=list(BAD_FEATURES))
def test_the_cli_refuses_a_bad_road_naming_the_feature_and_writes_nothing(app, session, town, tmp_path, bad):
    geometry, reason = BAD_FEATURES[bad]
    document = road_file()
    document["features"].insert(1, {"type": "Feature", "properties": {}, "geometry": geometry})
    path = tmp_path / "roads.geojson"
    path.write_text(json.dumps(document), encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["roads", "load", str(path)])
    assert result.exit_code != 0
    assert "features[1].geometry" in result.output and reason in result.output, result.output
    assert session.scalar(select(func.count()).select_from(Road)) == 0
    assert session.scalar(select(func.count()).select_from(CoverageMark)) == 0


def test_the_cli_loads_replaces_and_clears_roads_and_refreshes_coverage(app, session, town, tmp_path):
    some_lenses(session, town)
    session.commit()
    runner = app.test_cli_runner()
    path = tmp_path / "roads.geojson"
    path.write_text(json.dumps(road_file()), encoding="utf-8")
    loaded = runner.invoke(args=["roads", "load", str(path), "--source", "OSM Hà Nội 2026-11-30"])
    assert loaded.exit_code == 0 and "roads loaded 2" in loaded.output, loaded.output
    again = runner.invoke(args=["roads", "load", str(path), "--replace"])
    assert again.exit_code == 0 and "roads removed 2" in again.output, again.output
    assert set(session.scalars(select(Road.source))) == {"roads.geojson"}
    refreshed = runner.invoke(args=["coverage", "refresh"])
    assert refreshed.exit_code == 0 and "coverage stored 2" in refreshed.output, refreshed.output
    assert session.get(CommuneCoverage, town.s.id).road_km > 0
    assert runner.invoke(args=["coverage", "refresh"]).output.strip() == "nothing to do"
    assert "coverage stored 2" in runner.invoke(args=["coverage", "refresh", "--all"]).output
    cleared = runner.invoke(args=["roads", "clear"])
    assert cleared.exit_code == 0 and "roads removed 2" in cleared.output
    runner.invoke(args=["coverage", "refresh"])
    session.expire_all()
    assert session.get(CommuneCoverage, town.s.id).road_km is None


def test_the_cli_refuses_a_file_that_is_not_geojson(app, tmp_path):
    path = tmp_path / "roads.geojson"
    path.write_text("not json", encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["roads", "load", str(path)])
    assert result.exit_code != 0 and "is not a GeoJSON file" in result.output
    path.write_text(json.dumps({"type": "Feature"}), encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["roads", "load", str(path)])
    assert result.exit_code != 0 and "FeatureCollection" in result.output


# --------------------------------------------------------------------------- the incremental refresh


def stored_figures(session) -> dict[int, tuple]:
    return {
        row.commune_id: (row.seen_km2, row.shared_seen_km2, row.road_km, row.road_seen_km, row.road_shared_seen_km)
        for row in session.scalars(select(CommuneCoverage))
    }


def assert_refresh_is_a_recompute(session, now=None) -> dict[int, tuple]:
    """The scheduler's two refreshes, then the stored rows against a computation from scratch."""
    now = now or utcnow()
    commune_figures.refresh(session, now)
    refresh_coverage(session, now)
    assert session.scalar(select(func.count()).select_from(CoverageMark)) == 0
    kept = stored_figures(session)
    fresh = {
        computed.commune_id: (
            computed.cover.seen_km2,
            computed.cover.shared_seen_km2,
            computed.cover.road_km,
            computed.cover.road_seen_km,
            computed.cover.road_shared_seen_km,
        )
        for computed in compute_now(session, list(kept), now)
    }
    assert kept.keys() == fresh.keys()
    for commune_id, figures in fresh.items():
        assert kept[commune_id] == pytest.approx(figures, abs=1e-12), commune_id
    assert all(not figures.stale for figures in coverage_figures(session, list(kept), now).values())
    return kept


def _move(session, lens, lon, lat, commune=None):
    lens.point = from_shape(Point(lon, lat), srid=4326)
    if commune is not None:
        lens.commune = commune


WRITES = {
    "lens added": lambda s, town, lenses: add_lens(s, town, "new", "s", 105.9015, 21.1005, 45.0),
    "lens moved": lambda s, town, lenses: _move(s, lenses["north"], 105.9025, 21.1020),
    "lens moved across the border": lambda s, town, lenses: _move(s, lenses["north"], 105.9035, 21.1010, town.t),
    "lens re-aimed": lambda s, town, lenses: setattr(lenses["across"], "bearing_deg", 90.0),
    "lens offline": lambda s, town, lenses: setattr(lenses["across"], "status", LensStatus.OFFLINE),
    "lens removed": lambda s, town, lenses: setattr(lenses["wide"], "status", LensStatus.REMOVED),
    "recorder changing owner": lambda s, town, lenses: setattr(town.recorders["p"], "owner", town.owners["shared"]),
    "commitment signed": lambda s, town, lenses: s.add(
        SharingCommitment(
            owner=town.owners["private"],
            all_recorders=True,
            signed_at=utcnow() - timedelta(minutes=1),
            channel=CommitmentChannel.PAPER,
            text_version="2025.1",
        )
    ),
    "commitment revoked": lambda s, town, lenses: s.execute(
        update(SharingCommitment)
        .where(SharingCommitment.owner_id == town.owners["shared"].id)
        .values(revoked_at=utcnow() - timedelta(minutes=1))
    ),
    "roads loaded": lambda s, town, lenses: load_roads(s, road_file(), "test", utcnow()),
    "boundary changed": lambda s, town, lenses: setattr(
        town.s, "boundary", from_shape(MultiPolygon([box(105.9000, 21.1000, 105.9030, 21.1015)]), srid=4326)
    ),
}


@pytest.mark.parametrize("write", WRITES, ids=list(WRITES))
def test_after_each_kind_of_write_the_refresh_stores_a_recompute(session, town, write):
    lenses = some_lenses(session, town)
    before = assert_refresh_is_a_recompute(session)
    WRITES[write](session, town, lenses)
    session.flush()
    pending = coverage_figures(session, [town.s.id, town.t.id], utcnow())
    assert any(figures.stale for figures in pending.values())
    after = assert_refresh_is_a_recompute(session)
    assert after != before


def test_a_refresh_with_nothing_changed_computes_nothing(session, town):
    some_lenses(session, town)
    assert_refresh_is_a_recompute(session)
    assert refresh_coverage(session, utcnow()) == {}


def test_a_commune_marked_again_while_computed_is_left_for_the_next_refresh(session, town, db_connection, monkeypatch):
    """The refresh stores nothing a change made old meanwhile: a mark newer than what it read keeps the commune
    (and its neighbours) as it was, stale, for the next run. The change is written between the refresh's read
    and its store, as another writer's would be."""
    lenses = some_lenses(session, town)
    before = assert_refresh_is_a_recompute(session)
    lenses["north"].bearing_deg = 90.0
    session.commit()
    sessions = sessionmaker(bind=db_connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    compute = commune_coverage.compute_covers

    def compute_then_another_write(reading):
        computed = compute(reading)
        lenses["north"].bearing_deg = 180.0
        session.commit()
        commune_figures.refresh(session, utcnow())
        session.commit()
        return computed

    commune_figures.refresh(session, utcnow())
    monkeypatch.setattr(commune_coverage, "compute_covers", compute_then_another_write)
    counts = refresh_coverage(sessions, utcnow())
    monkeypatch.undo()
    assert counts["coverage_computed"] == 2 and counts["coverage_stored"] == 0
    assert stored_figures(session) == before
    assert all(figures.stale for figures in coverage_figures(session, [town.s.id, town.t.id], utcnow()).values())
    assert assert_refresh_is_a_recompute(session) != before


def test_the_full_recompute_stores_every_commune(session, town):
    some_lenses(session, town)
    assert recompute_coverage(session, None, utcnow())["coverage_stored"] == 2
    assert set(stored_figures(session)) == {town.s.id, town.t.id}


def test_the_map_layer_sends_each_communes_unions_simplified_for_the_zoom(session, town):
    some_lenses(session, town)
    now = datetime.now(UTC)
    recompute_coverage(session, None, now)
    shapes = {drawn.commune_id: drawn for drawn in coverage_shapes(session, (105.89, 21.09, 105.91, 21.11), 16)}
    assert set(shapes) == {town.s.id, town.t.id}
    s = shapes[town.s.id]
    assert s.seen["type"] == s.shared_seen["type"] == "MultiPolygon"
    assert shape(s.shared_seen).area < shape(s.seen).area
    assert shape(s.seen).within(box(*S_BOX).buffer(1e-6))
    assert coverage_shapes(session, (106.5, 21.5, 106.6, 21.6), 16) == []


def test_postgresql_compresses_the_drawings_with_lz4(session):
    """pglz took 0.39 s of a full recompute's 10 MB of drawings on the city, LZ4 0.15 s (migration 0021)."""
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("SQLite stores text uncompressed")
    methods = session.execute(
        text(
            "SELECT attname, attcompression FROM pg_attribute "
            "WHERE attrelid = 'coverage_drawings'::regclass AND attname LIKE '%seen_geojson'"
        )
    ).all()
    assert dict(methods) == {"seen_geojson": "l", "shared_seen_geojson": "l"}


def test_every_bands_drawing_strays_less_than_a_pixel_from_the_union(session, town):
    """The coarser bands are simplified from the finer ones: the strays add up, and must still stay within each
    band's pixel (plus the rounding to what a pixel shows) of the exact union, with fewer vertices as it zooms out.
    At the widest band only the drawing's side is bound: sectors a pixel or two across collapse there."""
    some_lenses(session, town)
    now = datetime.now(UTC)
    recompute_coverage(session, None, now)
    exact = {computed.commune_id: computed.cover for computed in compute_now(session, [town.s.id, town.t.id], now)}
    vertices = Counter()
    for band in DRAWING_ZOOMS:
        pixel_m = degrees_per_pixel(band) * GEOD.inv(105.9, 21.1, 106.9, 21.1)[2]
        for drawn in coverage_shapes(session, (105.89, 21.09, 105.91, 21.11), band):
            cover = exact[drawn.commune_id]
            for geojson, union in ((drawn.seen, cover.seen_m), (drawn.shared_seen, cover.shared_seen_m)):
                drawing = cover.frame.project(shape(geojson))
                assert drawing.difference(union.buffer(1.1 * pixel_m)).is_empty, band
                if band > DRAWING_ZOOMS[0]:  # zoomed out, a sector narrower than a pixel or two may vanish
                    assert shapely.hausdorff_distance(drawing, union, densify=0.05) <= 1.1 * pixel_m, band
                vertices[band] += shapely.get_num_coordinates(drawing)
    assert vertices[11] <= vertices[14] <= vertices[17] and vertices[11] < vertices[17]


def test_reads_while_the_refresh_and_writers_run_never_fail(own_database_url):
    """Real connections at once (on SQLite, one writer at a time): a writer re-aims a lens, the scheduler's jobs
    recount and recompute, and readers read the figures and the map layer throughout; no read fails or writes."""
    engine = make_engine(own_database_url)
    sessions = make_session_factory(engine)
    try:
        with sessions() as session:
            town = make_town(session)
            lens_id = some_lenses(session, town)["north"].id
            communes = [town.s.id, town.t.id]
            session.commit()
        stop, failures, reads = threading.Event(), [], Counter()

        def keep_doing(work):
            def loop():
                while not stop.is_set():
                    try:
                        work()
                    except Exception as error:  # noqa: BLE001 - every failure is the finding
                        failures.append(repr(error))

            return threading.Thread(target=loop)

        def write():
            def reaim(session):
                lens = session.get(Lens, lens_id)
                lens.bearing_deg = (lens.bearing_deg + 37.0) % 360

            write_unit(sessions, reaim)

        def refresh():
            now = utcnow()
            commune_figures.refresh_commune_figures(sessions, None, now)
            refresh_coverage(sessions, now)

        def read():
            with open_session(sessions, READ) as session:
                figures = coverage_figures(session, communes, utcnow())
                coverage_shapes(session, (105.89, 21.09, 105.91, 21.11), 15)
            reads["stale" if any(f.stale for f in figures.values()) else "current"] += 1

        threads = [keep_doing(write), keep_doing(refresh), keep_doing(read), keep_doing(read)]
        for thread in threads:
            thread.start()
        time.sleep(3)
        stop.set()
        for thread in threads:
            thread.join()
        assert failures == []
        assert sum(reads.values()) > 10
    finally:
        engine.dispose()
