"""Spatial SQL that differs between PostGIS and SpatiaLite, behind small named functions.

Everything else in the code base builds queries from these, so backend
differences stay here (DESIGN.md §3, §4). Distances are metres on the WGS84
ellipsoid on both backends: PostGIS through `geography`, SpatiaLite through
its ellipsoidal `ST_Distance(a, b, 1)`.
"""
from __future__ import annotations

from geoalchemy2 import Geography
from shapely import to_wkb
from shapely.geometry.base import BaseGeometry
from sqlalchemy import ColumnElement, LargeBinary, cast, column, func, literal, select, table
from sqlalchemy.orm import InstrumentedAttribute, Session

from ..db import is_sqlite
from ..models import WGS84, Lens
from .metric import expand_bounds

Envelope = tuple[float, float, float, float]

_spatialite_index = table("SpatialIndex", column("rowid"), column("f_table_name"), column("f_geometry_column"), column("search_frame"))


def geometry_literal(geometry: BaseGeometry) -> ColumnElement:
    """A bound WGS84 geometry; WKB keeps full precision and works on both backends."""
    return func.ST_GeomFromWKB(literal(to_wkb(geometry), LargeBinary), WGS84)


def envelope_literal(bind, envelope: Envelope) -> ColumnElement:
    min_lon, min_lat, max_lon, max_lat = envelope
    if is_sqlite(bind):
        return func.BuildMbr(min_lon, min_lat, max_lon, max_lat, WGS84)
    return func.ST_MakeEnvelope(min_lon, min_lat, max_lon, max_lat, WGS84)


def within_envelope(bind, geom_column: InstrumentedAttribute, envelope: Envelope) -> ColumnElement[bool]:
    """Index-backed bounding-box test of `geom_column` against a lon/lat box.

    SpatiaLite never consults its R*Tree on its own: the candidate rowids must
    come from the SpatialIndex virtual table. PostGIS uses GiST for `&&`.
    """
    if is_sqlite(bind):
        mapped_table = geom_column.class_.__table__
        candidates = select(_spatialite_index.c.rowid).where(
            _spatialite_index.c.f_table_name == mapped_table.name,
            _spatialite_index.c.f_geometry_column == geom_column.key,
            _spatialite_index.c.search_frame == envelope_literal(bind, envelope),
        )
        return mapped_table.c.id.in_(candidates)
    return geom_column.op("&&")(envelope_literal(bind, envelope))


def distance_metres(bind, a: ColumnElement, b: ColumnElement) -> ColumnElement[float]:
    """Ellipsoidal distance in metres between two WGS84 geometries."""
    if is_sqlite(bind):
        return func.ST_Distance(a, b, 1)
    return func.ST_Distance(cast(a, Geography), cast(b, Geography))


def within_metres(bind, geom_column: InstrumentedAttribute, geometry: BaseGeometry, radius_m: float,
                  *, use_index: bool = True) -> ColumnElement[bool]:
    """`geom_column` lies within `radius_m` metres of `geometry`.

    The index narrows candidates to a lon/lat box that safely holds the
    radius; the exact metric test then runs on those rows only. The column
    itself is never cast in the index test, which would defeat the index.
    """
    target = geometry_literal(geometry)
    if is_sqlite(bind):
        exact = func.ST_Distance(geom_column, target, 1) <= radius_m
    else:
        exact = func.ST_DWithin(cast(geom_column, Geography), cast(target, Geography), radius_m)
    if not use_index:
        return exact
    return within_envelope(bind, geom_column, expand_bounds(geometry.bounds, radius_m)) & exact


def lenses_near(session: Session, geometry: BaseGeometry, radius_m: float, *,
                use_index: bool = True) -> list[tuple[Lens, float]]:
    """Lenses within `radius_m` metres of `geometry`, nearest first, with their distance.

    `use_index=False` runs the same exact test as a full scan; it exists for
    the benchmark that shows what the index buys.
    """
    bind = session.get_bind()
    distance = distance_metres(bind, Lens.point, geometry_literal(geometry)).label("distance_m")
    statement = (
        select(Lens, distance)
        .where(within_metres(bind, Lens.point, geometry, radius_m, use_index=use_index))
        .order_by(distance, Lens.id)
    )
    return [(lens, float(distance_m)) for lens, distance_m in session.execute(statement)]
