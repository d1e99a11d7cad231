"""Spatial SQL that differs between PostGIS and SpatiaLite, behind small named functions.

Everything else in the code base builds queries from these, so backend
differences stay here (DESIGN.md §3, §4). Distances are metres on the WGS84
ellipsoid on both backends: PostGIS through `geography`, SpatiaLite through
its ellipsoidal `ST_Distance(a, b, 1)`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import shapely
from geoalchemy2 import Geography
from shapely import to_wkb
from shapely.geometry.base import BaseGeometry
from sqlalchemy import ColumnElement, Integer, LargeBinary, case, cast, column, func, literal, or_, select, table, union
from sqlalchemy.orm import InstrumentedAttribute, Session

from ..db import is_sqlite
from ..models import WGS84, Lens, LensStatus
from .metric import expand_bounds

Envelope = tuple[float, float, float, float]

_spatialite_index = table(
    "SpatialIndex", column("rowid"), column("f_table_name"), column("f_geometry_column"), column("search_frame")
)


def geometry_literal(geometry: BaseGeometry) -> ColumnElement:
    """A bound WGS84 geometry; WKB keeps full precision and works on both backends."""
    return func.ST_GeomFromWKB(literal(to_wkb(geometry), LargeBinary), WGS84)


def envelope_literal(bind, envelope: Envelope) -> ColumnElement:
    min_lon, min_lat, max_lon, max_lat = envelope
    if is_sqlite(bind):
        return func.BuildMbr(min_lon, min_lat, max_lon, max_lat, WGS84)
    return func.ST_MakeEnvelope(min_lon, min_lat, max_lon, max_lat, WGS84)


def within_envelope(bind, geom_column: InstrumentedAttribute, envelope: Envelope) -> ColumnElement[bool]:
    """Index-backed bounding-box test of `geom_column` against a lon/lat box."""
    return within_envelopes(bind, geom_column, [envelope])


def within_envelopes(bind, geom_column: InstrumentedAttribute, envelopes: list[Envelope]) -> ColumnElement[bool]:
    """Index-backed test that `geom_column` meets at least one of several lon/lat boxes.

    SpatiaLite never consults its R*Tree on its own: the candidate rowids must
    come from the SpatialIndex virtual table, one search frame per box. PostGIS
    uses GiST for each `&&` and ORs the bitmaps.
    """
    if is_sqlite(bind):
        mapped_table = geom_column.class_.__table__
        frames = [
            select(_spatialite_index.c.rowid).where(
                _spatialite_index.c.f_table_name == mapped_table.name,
                _spatialite_index.c.f_geometry_column == geom_column.key,
                _spatialite_index.c.search_frame == envelope_literal(bind, envelope),
            )
            for envelope in envelopes
        ]
        return mapped_table.c.id.in_(frames[0] if len(frames) == 1 else union(*frames))
    return or_(*(geom_column.op("&&")(envelope_literal(bind, envelope)) for envelope in envelopes))


# A route's corridor is covered by boxes around pieces of it about this long (in degrees of latitude, ~550 m),
# so a long or diagonal route reads the lenses along it, not every lens in its bounding box.
_CORRIDOR_PIECE_DEG = 0.005
# Added to the radius of a piece's box: a geodesic bows off the straight lon/lat segment by up to ~1 m over 10 km.
_CORRIDOR_MARGIN_M = 2.0


def corridor_envelopes(geometry: BaseGeometry, radius_m: float) -> list[Envelope]:
    """Lon/lat boxes that together hold every point within `radius_m` of `geometry`.

    A point gets one box. A line is cut into consecutive pieces whose own
    boxes span at most _CORRIDOR_PIECE_DEG; each piece's box, widened by the
    radius, holds what lies within the radius of that piece, so the boxes
    together hold the whole corridor.
    """
    if geometry.geom_type != "LineString":
        return [expand_bounds(geometry.bounds, radius_m)]
    coords = shapely.get_coordinates(shapely.segmentize(geometry, _CORRIDOR_PIECE_DEG))
    envelopes, start = [], 0
    for end in range(1, len(coords)):
        piece = coords[start : end + 1]
        if end + 1 < len(coords) and (piece.max(axis=0) - piece.min(axis=0)).max() < _CORRIDOR_PIECE_DEG:
            continue
        (min_lon, min_lat), (max_lon, max_lat) = piece.min(axis=0), piece.max(axis=0)
        envelopes.append(expand_bounds((min_lon, min_lat, max_lon, max_lat), radius_m + _CORRIDOR_MARGIN_M))
        start = end
    return envelopes


def distance_metres(bind, a: ColumnElement, b: ColumnElement) -> ColumnElement[float]:
    """Ellipsoidal distance in metres between two WGS84 geometries.

    Exact for two points. On SpatiaLite a line or polygon operand is off by up
    to ~1.5 % (see `distance_to_metres`); use that for point-to-shape distances.
    """
    if is_sqlite(bind):
        return func.ST_Distance(a, b, 1)
    return func.ST_Distance(cast(a, Geography), cast(b, Geography))


_WGS84_E2 = 0.00669437999014  # first eccentricity squared


def _lon_lat_metre_ratio(lat: float) -> float:
    """Length of a degree of longitude over that of a degree of latitude at `lat` (WGS84)."""
    sin_lat = math.sin(math.radians(lat))
    return math.cos(math.radians(lat)) * (1 - _WGS84_E2 * sin_lat * sin_lat) / (1 - _WGS84_E2)


def distance_to_metres(bind, point_column: ColumnElement, geometry: BaseGeometry) -> ColumnElement[float]:
    """Ellipsoidal distance in metres from a WGS84 point column to a constant `geometry`.

    SpatiaLite's `ST_Distance(point, line, 1)` picks the nearest point of the
    line in raw lon/lat degrees and then measures the geodesic to it; at 21°N
    a degree of longitude is 7 % shorter than one of latitude, so it picks the
    wrong point and overstates the distance by up to ~1.5 % (15 m at 1 km),
    dropping lenses near a route. So on SpatiaLite the nearest point is found
    with longitudes scaled to the local metre ratio, and the geodesic is
    measured to that point (within a centimetre of PostGIS for city-sized shapes);
    a point inside a polygon (an area request) is 0 m from it.
    """
    target = geometry_literal(geometry)
    if not is_sqlite(bind):
        return distance_metres(bind, point_column, target)
    if geometry.geom_type == "Point":
        return func.ST_Distance(point_column, target, 1)
    ratio = _lon_lat_metre_ratio(geometry.centroid.y)
    nearest = func.ScaleCoords(
        func.ST_ClosestPoint(func.ScaleCoords(target, ratio, 1), func.ScaleCoords(point_column, ratio, 1)), 1 / ratio, 1
    )
    # SpatiaLite 5.0's ST_ClosestPoint answers NULL for a point lying on the line itself;
    # its own distance (zero there) stands in, so a lens on the route is not dropped.
    distance = func.coalesce(func.ST_Distance(point_column, nearest, 1), func.ST_Distance(point_column, target, 1))
    if geometry.geom_type != "Polygon":
        return distance
    # From inside a polygon, ST_ClosestPoint answers the nearest point of its outline, not the point itself.
    return case((func.ST_Intersects(point_column, target) == 1, 0.0), else_=distance)


def within_metres(
    bind, geom_column: InstrumentedAttribute, geometry: BaseGeometry, radius_m: float, *, use_index: bool = True
) -> ColumnElement[bool]:
    """`geom_column` lies within `radius_m` metres of `geometry`.

    The index narrows candidates to lon/lat boxes that safely hold the
    radius (`corridor_envelopes`); the exact metric test then runs on those
    rows only. The column itself is never cast in the index test, which
    would defeat the index.
    """
    if is_sqlite(bind):
        exact = distance_to_metres(bind, geom_column, geometry) <= radius_m
    else:
        target = geometry_literal(geometry)
        exact = func.ST_DWithin(cast(geom_column, Geography), cast(target, Geography), radius_m)
    if not use_index:
        return exact
    return within_envelopes(bind, geom_column, corridor_envelopes(geometry, radius_m)) & exact


def grid_index(bind, coordinate: ColumnElement, origin: float, cell_deg: float) -> ColumnElement[int]:
    """Which cell of a grid `cell_deg` wide, starting at `origin`, holds `coordinate`: floor((c - origin) / cell).

    SQLite has floor() only when built with its math functions; casting to
    an integer truncates, which is the floor for the non-negative offsets
    callers pass (origin -180 for longitudes, -90 for latitudes). PostgreSQL
    rounds on a cast, so it gets floor().
    """
    offset = (coordinate - origin) / cell_deg
    if is_sqlite(bind):
        return cast(offset, Integer)
    return cast(func.floor(offset), Integer)


def _near(bind, columns, geometry: BaseGeometry, radius_m: float, use_index: bool):
    distance = distance_to_metres(bind, Lens.point, geometry).label("distance_m")
    return (
        select(*columns, distance)
        .where(within_metres(bind, Lens.point, geometry, radius_m, use_index=use_index))
        .order_by(distance, Lens.id)
    )


def _near_once(bind, columns, geometry: BaseGeometry, radius_m: float):
    """`_near` on SQLite, with the distance computed once a lens: SQLite computes it twice there, in the test and
    in the answer (on a route, some 12 µs a lens each time). A subquery computes it for the index's candidates
    and the statement keeps those within the radius; its LIMIT keeps SQLite from flattening it, which would copy
    the distance into the test again."""
    candidates = (
        select(*columns, distance_to_metres(bind, Lens.point, geometry).label("distance_m"))
        .where(within_envelopes(bind, Lens.point, corridor_envelopes(geometry, radius_m)))
        .limit(-1)
        .subquery()
    )
    return (
        select(candidates).where(candidates.c.distance_m <= radius_m).order_by(candidates.c.distance_m, candidates.c.id)
    )


def lenses_near(
    session: Session, geometry: BaseGeometry, radius_m: float, *, use_index: bool = True
) -> list[tuple[Lens, float]]:
    """Lenses within `radius_m` metres of `geometry`, nearest first, with their distance.

    `use_index=False` runs the same exact test as a full scan; it exists for
    the benchmark that shows what the index buys.
    """
    statement = _near(session.get_bind(), [Lens], geometry, radius_m, use_index)
    return [(lens, float(distance_m)) for lens, distance_m in session.execute(statement)]


@dataclass(frozen=True)
class NearbyLens:
    """What routing reads of a lens within the radius, as plain values: a 10 km route meets hundreds of lenses,
    and an ORM object and a parsed geometry each cost more than the query that finds them."""

    id: int
    recorder_id: int
    status: LensStatus
    bearing_deg: float | None
    fov_deg: float
    range_m: float
    lon: float
    lat: float
    distance_m: float


def nearby_lenses(session: Session, geometry: BaseGeometry, radius_m: float) -> list[NearbyLens]:
    """The lenses `lenses_near` finds, in the same order, as `NearbyLens` values."""
    columns = [
        Lens.id,
        Lens.recorder_id,
        Lens.status,
        Lens.bearing_deg,
        Lens.fov_deg,
        Lens.range_m,
        func.ST_X(Lens.point).label("lon"),
        func.ST_Y(Lens.point).label("lat"),
    ]
    bind = session.get_bind()
    statement = (
        _near_once(bind, columns, geometry, radius_m)
        if is_sqlite(bind)
        else _near(bind, columns, geometry, radius_m, True)
    )
    return [NearbyLens(*row[:-1], float(row[-1])) for row in session.execute(statement)]
