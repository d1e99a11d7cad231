"""Spatial queries and registry rules, checked on the backend this run uses.

`lenses_near` is compared against a brute-force oracle computed in Python on
the WGS84 ellipsoid (pyproj), so both backends must give the same answer.
"""

from __future__ import annotations

import random
from contextlib import contextmanager
from datetime import date

import numpy as np
import pytest
import shapely
from geoalchemy2.shape import from_shape
from pyproj import Geod, Transformer
from shapely import LineString, MultiPolygon, Point, box
from shapely.geometry.base import BaseGeometry
from sqlalchemy import event, insert

from camera_registry.geo.spatial import lenses_near
from camera_registry.models import (
    AdminLevel,
    AdminUnit,
    AuditEvent,
    AuditTrailIsAppendOnly,
    Lens,
    Owner,
    OwnerKind,
    Recorder,
)
from camera_registry.services.registry import reassign_communes

HANOI = (105.80, 20.98, 105.90, 21.06)  # min_lon, min_lat, max_lon, max_lat
RADII_M = (50, 200, 1000)
BORDER_TOLERANCE_M = 0.5  # oracle and database may round differently right at the radius
DISTANCE_TOLERANCE_M = 0.5
GEOD = Geod(ellps="WGS84")


def wgs84(geometry: BaseGeometry):
    return from_shape(geometry, srid=4326)


RECORDER_POINT = Point(105.85, 21.02)


def make_recorder(session, key: str = "r1", point: Point = RECORDER_POINT) -> Recorder:
    owner = Owner(external_id=f"owner-{key}", kind=OwnerKind.HOUSEHOLD, name=f"Owner {key}")
    recorder = Recorder(external_id=f"rec-{key}", owner=owner, point=wgs84(point), retention_days=30)
    session.add(recorder)
    session.flush()
    return recorder


def random_point(rng: random.Random) -> Point:
    min_lon, min_lat, max_lon, max_lat = HANOI
    return Point(rng.uniform(min_lon, max_lon), rng.uniform(min_lat, max_lat))


# --------------------------------------------------------------------------- oracle


def oracle_distances(geometry: BaseGeometry, lons: np.ndarray, lats: np.ndarray) -> np.ndarray:
    """Ellipsoidal distance in metres from each (lon, lat) to `geometry`."""
    if isinstance(geometry, Point):
        _, _, dist = GEOD.inv(np.full_like(lons, geometry.x), np.full_like(lats, geometry.y), lons, lats)
        return np.asarray(dist)
    # A local azimuthal-equidistant projection centred on the geometry: over a
    # few km its distortion is far below a millimetre, so planar distance in it
    # is the ellipsoidal distance for this test's purposes.
    centre = geometry.centroid
    to_local = Transformer.from_crs(
        "EPSG:4326", f"+proj=aeqd +lat_0={centre.y} +lon_0={centre.x} +ellps=WGS84 +units=m", always_xy=True
    )
    local_geometry = shapely.transform(geometry, to_local.transform, interleaved=False)
    xs, ys = to_local.transform(lons, lats)
    return shapely.distance(shapely.points(xs, ys), local_geometry)


@pytest.fixture()
def scattered_lenses(session):
    """300 lenses at seeded random points around Hanoi; returns (ids, lons, lats)."""
    rng = random.Random(20250701)
    recorder = make_recorder(session)
    points = [random_point(rng) for _ in range(300)]
    lenses = [Lens(external_id=f"lens-{i}", recorder=recorder, point=wgs84(p)) for i, p in enumerate(points)]
    session.add_all(lenses)
    session.flush()
    ids = np.array([lens.id for lens in lenses])
    coords = np.array([(p.x, p.y) for p in points])
    return ids, coords[:, 0], coords[:, 1]


def query_geometries() -> list[BaseGeometry]:
    rng = random.Random(4242)
    geometries: list[BaseGeometry] = [random_point(rng) for _ in range(6)]
    for _ in range(4):
        start = random_point(rng)
        vertices = [start]
        for _ in range(rng.randint(1, 3)):
            last = vertices[-1]
            vertices.append(Point(last.x + rng.uniform(-0.012, 0.012), last.y + rng.uniform(-0.012, 0.012)))
        geometries.append(LineString([(v.x, v.y) for v in vertices]))
    return geometries


GEOMETRIES = query_geometries()


@pytest.mark.parametrize("use_index", [True, False], ids=["index", "scan"])
@pytest.mark.parametrize("geometry", GEOMETRIES, ids=[f"{g.geom_type.lower()}{i}" for i, g in enumerate(GEOMETRIES)])
def test_lenses_near_matches_ellipsoidal_oracle(session, scattered_lenses, geometry, use_index):
    ids, lons, lats = scattered_lenses
    expected_distance = dict(zip(ids.tolist(), oracle_distances(geometry, lons, lats).tolist()))
    for radius in RADII_M:
        found = lenses_near(session, geometry, radius, use_index=use_index)
        found_ids = [lens.id for lens, _ in found]
        distances = [d for _, d in found]

        assert distances == sorted(distances), "not nearest first"
        assert len(found_ids) == len(set(found_ids))
        clearly_inside = {i for i, d in expected_distance.items() if d <= radius - BORDER_TOLERANCE_M}
        maybe = {i for i, d in expected_distance.items() if d <= radius + BORDER_TOLERANCE_M}
        assert clearly_inside <= set(found_ids) <= maybe, (
            f"radius {radius}: missing {sorted(clearly_inside - set(found_ids))}, "
            f"extra {sorted(set(found_ids) - maybe)}"
        )
        for lens, distance in found:
            assert distance == pytest.approx(expected_distance[lens.id], abs=DISTANCE_TOLERANCE_M), lens.id


def test_lenses_near_index_and_scan_agree(session, scattered_lenses):
    for geometry in GEOMETRIES:
        for radius in RADII_M:
            indexed = [(lens.id, round(d, 6)) for lens, d in lenses_near(session, geometry, radius)]
            scanned = [(lens.id, round(d, 6)) for lens, d in lenses_near(session, geometry, radius, use_index=False)]
            assert indexed == scanned


def test_a_lens_lying_on_the_route_is_found_at_zero_metres(session):
    """Regression: SpatiaLite's ST_ClosestPoint is NULL for a point on the line, which dropped the lens."""
    route = LineString([(105.80, 21.00), (105.81, 21.00), (105.81, 21.01)])
    recorder = make_recorder(session, "on-route", Point(105.80, 21.001))
    on_corner = Lens(external_id="on-corner", recorder=recorder, point=wgs84(Point(105.81, 21.00)))
    mid_segment = Lens(external_id="mid-segment", recorder=recorder, point=wgs84(Point(105.805, 21.00)))
    session.add_all([on_corner, mid_segment])
    session.flush()
    found = {lens.external_id: distance for lens, distance in lenses_near(session, route, 10)}
    assert found.keys() == {"on-corner", "mid-segment"}
    assert all(distance < 0.01 for distance in found.values())


def test_lenses_near_finds_something_in_a_dense_spot(session, scattered_lenses):
    """Guards the oracle test against passing vacuously with empty results."""
    ids, lons, lats = scattered_lenses
    centre = Point(lons[0], lats[0])
    found = lenses_near(session, centre, 1000)
    assert found and found[0][0].id == ids[0] and found[0][1] == pytest.approx(0, abs=0.01)


# --------------------------------------------------------------------------- index use


@contextmanager
def captured_statements(connection):
    statements: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    event.listen(connection, "before_cursor_execute", capture)
    try:
        yield statements
    finally:
        event.remove(connection, "before_cursor_execute", capture)


def query_plan(session, geometry, radius, use_index) -> str:
    """The plan the database chooses for exactly the SQL `lenses_near` runs."""
    connection = session.connection()
    with captured_statements(connection) as statements:
        lenses_near(session, geometry, radius, use_index=use_index)
    ((statement, parameters),) = [s for s in statements if "lenses" in s[0]]
    prefix = "EXPLAIN QUERY PLAN " if connection.dialect.name == "sqlite" else "EXPLAIN "
    rows = connection.exec_driver_sql(prefix + statement, parameters).all()
    return "\n".join(" ".join(str(part) for part in row) for row in rows)


def bulk_lenses(session, count: int, seed: int = 7) -> None:
    """Many lenses through Core (fast); points as EWKT, which Geometry binds on both backends."""
    recorder = make_recorder(session, key="bulk")
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        p = random_point(rng)
        rows.append(
            {
                "external_id": f"bulk-{i}",
                "recorder_id": recorder.id,
                "point": f"SRID=4326;POINT({p.x} {p.y})",
                "fov_deg": 90.0,
                "range_m": 30.0,
                "kind": "fixed",
                "status": "active",
            }
        )
    session.execute(insert(Lens.__table__), rows)


def test_radius_query_goes_through_the_spatial_index(session, backend):
    """SpatiaLite must be led through its SpatialIndex table; PostGIS picks GiST itself."""
    probe = Point(105.85, 21.02)
    if backend == "spatialite":
        bulk_lenses(session, 500)
        for geometry in (probe, LineString([(105.84, 21.01), (105.86, 21.03)])):
            indexed = query_plan(session, geometry, 200, use_index=True)
            assert "SpatialIndex" in indexed and "VIRTUAL TABLE" in indexed.upper(), indexed
        marker = "SpatialIndex"
    else:
        # Enough rows that a sequential scan is clearly dearer, and fresh statistics
        # (ANALYZE sees this transaction's own uncommitted rows).
        bulk_lenses(session, 20_000)
        session.connection().exec_driver_sql("ANALYZE lenses")
        for geometry in (probe, LineString([(105.84, 21.01), (105.86, 21.03)])):
            indexed = query_plan(session, geometry, 200, use_index=True)
            assert "idx_lenses_point" in indexed, indexed
        marker = "idx_lenses_point"
    scanned = query_plan(session, probe, 200, use_index=False)
    assert marker not in scanned, scanned  # shows the check can fail


# --------------------------------------------------------------------------- registry: communes


def commune(session, code: str, *boxes: tuple[float, float, float, float], valid_to: date | None = None) -> AdminUnit:
    unit = AdminUnit(
        code=code,
        name=f"Commune {code}",
        level=AdminLevel.COMMUNE,
        boundary=wgs84(MultiPolygon([box(*b) for b in boxes])),
        valid_to=valid_to,
    )
    session.add(unit)
    session.flush()
    return unit


WEST = (105.80, 21.00, 105.85, 21.05)
EAST = (105.85, 21.00, 105.90, 21.05)
IN_WEST = Point(105.82, 21.02)
IN_EAST = Point(105.88, 21.02)
OUTSIDE = Point(105.95, 21.10)


def test_commune_is_derived_on_flush_for_recorders_and_lenses(session):
    west = commune(session, "W", WEST)
    east = commune(session, "E", EAST)
    recorder = make_recorder(session, point=IN_WEST)
    lens = Lens(external_id="l-in", recorder=recorder, point=wgs84(IN_EAST))
    stray = Lens(external_id="l-out", recorder=recorder, point=wgs84(OUTSIDE))
    session.add_all([lens, stray])
    session.flush()
    assert recorder.commune_id == west.id
    assert lens.commune_id == east.id
    assert stray.commune_id is None


def test_moving_a_lens_or_recorder_updates_its_commune(session):
    west = commune(session, "W", WEST)
    east = commune(session, "E", EAST)
    recorder = make_recorder(session, point=IN_WEST)
    lens = Lens(external_id="l1", recorder=recorder, point=wgs84(IN_WEST))
    session.add(lens)
    session.commit()  # a SAVEPOINT here: the test's transaction is still rolled back
    assert lens.commune_id == west.id

    lens.point = wgs84(IN_EAST)
    recorder.point = wgs84(OUTSIDE)
    session.commit()
    session.expire_all()
    assert session.get(Lens, lens.id).commune_id == east.id
    assert session.get(Recorder, recorder.id).commune_id is None


def test_commune_added_in_the_same_flush_is_assigned(session):
    unit = AdminUnit(
        code="SAME", name="Same flush", level=AdminLevel.COMMUNE, boundary=wgs84(MultiPolygon([box(*WEST)]))
    )
    owner = Owner(external_id="owner-same", kind=OwnerKind.HOUSEHOLD, name="Same")
    recorder = Recorder(external_id="rec-same", owner=owner, point=wgs84(IN_WEST), retention_days=30)
    session.add_all([unit, recorder])
    session.flush()
    assert recorder.commune_id == unit.id


def test_closed_commune_is_not_assigned(session):
    commune(session, "OLD", WEST, valid_to=date(2025, 7, 1))
    recorder = make_recorder(session, point=IN_WEST)
    assert recorder.commune_id is None


def test_reassign_communes_after_a_boundary_changes(session):
    west = commune(session, "W", WEST)
    recorder = make_recorder(session, point=IN_WEST)
    lenses = [
        Lens(external_id=f"l{i}", recorder=recorder, point=wgs84(p)) for i, p in enumerate((IN_WEST, IN_EAST, OUTSIDE))
    ]
    session.add_all(lenses)
    session.flush()
    assert [lens.commune_id for lens in lenses] == [west.id, None, None]

    # The reform: West now covers both halves, and a new commune takes the outside point.
    west.boundary = wgs84(MultiPolygon([box(*WEST), box(*EAST)]))
    north = commune(session, "N", (105.93, 21.08, 105.97, 21.12))
    session.flush()
    assert [lens.commune_id for lens in lenses] == [west.id, None, None]  # not re-derived by itself

    report = reassign_communes(session)
    assert report.lenses_changed == 2
    assert report.recorders_changed == 0
    assert report.outside_any_commune == 0
    assert [session.get(Lens, lens.id).commune_id for lens in lenses] == [west.id, west.id, north.id]

    # Shrinking West again leaves the eastern lens outside every commune.
    west.boundary = wgs84(MultiPolygon([box(*WEST)]))
    session.flush()
    report = reassign_communes(session)
    assert (report.lenses_changed, report.outside_any_commune) == (1, 1)
    assert session.get(Lens, lenses[1].id).commune_id is None


# --------------------------------------------------------------------------- audit trail


def test_audit_events_cannot_be_updated_or_deleted(session):
    event_row = AuditEvent(action="lens.created", entity_type="lens", entity_id="1")
    session.add(event_row)
    session.commit()

    event_row.note = "rewritten"
    with pytest.raises(AuditTrailIsAppendOnly):
        session.flush()
    session.rollback()

    session.delete(session.get(AuditEvent, event_row.id))
    with pytest.raises(AuditTrailIsAppendOnly):
        session.flush()
    session.rollback()

    assert session.get(AuditEvent, event_row.id).note is None
