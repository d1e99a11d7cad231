"""Mapbox vector tiles of points, in the Web Mercator tile grid (WebMercatorQuad).

PostGIS encodes a tile itself (`ST_AsMVT`); SpatiaLite has no encoder, so
there the rows are placed on the tile here and encoded with
mapbox-vector-tile (DESIGN.md §4). Both place a point on the same integer
grid of `TILE_EXTENT` units, y pointing down, and both filter the WGS84
column with the tile's lon/lat box (the box is transformed, never the column).

A tile's statement is built once per rows statement and layer and takes the
tile as bound parameters (`TILE_BOUNDS`, `Tile.parameters`), so a tile
request neither builds nor compiles SQL: SQLAlchemy reuses the compiled form.
"""

from __future__ import annotations

import enum
import functools
import math
from dataclasses import dataclass

import mapbox_vector_tile
from shapely.geometry import Point
from sqlalchemy import Float, Integer, LargeBinary, Select, bindparam, func, select
from sqlalchemy.orm import Session

from ..db import is_sqlite
from .spatial import Envelope

TILE_EXTENT = 4096
#: Points up to this many tile units outside the tile are kept, so a symbol
#: drawn at a tile's edge is not cut off by its neighbour (64 units: 8 px on a 512 px tile).
TILE_BUFFER = 64
MAX_ZOOM = 22
WEB_MERCATOR = 3857
_MAX_LAT = math.degrees(math.atan(math.sinh(math.pi)))  # 85.0511...: the grid's edge
#: The lon/lat box of the tile asked for (with its buffer), filled in at execution: limit `rows` to it.
TILE_BOUNDS = tuple(bindparam(f"tile_{side}", type_=Float) for side in ("west", "south", "east", "north"))
_TILE_ZXY = tuple(bindparam(f"tile_{axis}", type_=Integer) for axis in "zxy")


@dataclass(frozen=True)
class Tile:
    z: int
    x: int
    y: int

    @staticmethod
    def problem(z: int, x: int, y: int) -> str | None:
        """Why z/x/y names no tile of the grid, or None when it does."""
        if not 0 <= z <= MAX_ZOOM:
            return f"zoom must be 0..{MAX_ZOOM}"
        if not (0 <= x < 2**z and 0 <= y < 2**z):
            return f"at zoom {z} x and y must be 0..{2**z - 1}"
        return None

    @classmethod
    def containing(cls, lon: float, lat: float, z: int) -> Tile:
        """The tile of zoom `z` a lon/lat falls on (beyond the grid's edge: the edge tile)."""
        at_origin = cls(z, 0, 0).position(lon, lat)
        return cls(z, *(min(2**z - 1, max(0, int(units // TILE_EXTENT))) for units in at_origin))

    def _lon(self, column: float) -> float:
        return column / 2**self.z * 360.0 - 180.0

    def _lat(self, row: float) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / 2**self.z))))

    def bounds(self, buffer: int = TILE_BUFFER) -> Envelope:
        """The lon/lat box of the tile grown by `buffer` tile units on every side."""
        margin = buffer / TILE_EXTENT
        return (
            max(-180.0, self._lon(self.x - margin)),
            max(-_MAX_LAT, self._lat(self.y + 1 + margin)),
            min(180.0, self._lon(self.x + 1 + margin)),
            min(_MAX_LAT, self._lat(self.y - margin)),
        )

    def parameters(self) -> dict[str, float]:
        """The values of `TILE_BOUNDS` and of the tile's z/x/y for this tile."""
        west, south, east, north = self.bounds()
        return {
            "tile_west": west,
            "tile_south": south,
            "tile_east": east,
            "tile_north": north,
            "tile_z": self.z,
            "tile_x": self.x,
            "tile_y": self.y,
        }

    def position(self, lon: float, lat: float) -> tuple[float, float]:
        """Where a lon/lat falls on this tile, in tile units from its top-left corner (y down)."""
        scale = 2**self.z
        column = (lon + 180.0) / 360.0 * scale
        row = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * scale
        return (column - self.x) * TILE_EXTENT, (row - self.y) * TILE_EXTENT


def points_tile(session: Session, rows: Select, layer: str, tile: Tile, parameters: dict | None = None) -> bytes:
    """One layer of point features as a Mapbox vector tile; b"" when `rows` is empty.

    `rows` selects an integer `id` (the feature id, kept as a property too),
    the WGS84 point as `geom`, and the properties; it should already be
    limited to `TILE_BOUNDS`. Pass the same `rows` object for every tile (its
    tile statement is kept) with its own bound values in `parameters`.
    """
    values = {**tile.parameters(), **(parameters or {})}
    if is_sqlite(session.get_bind()):
        return _encode_here(session, rows, layer, tile, values)
    return bytes(session.scalar(_postgis_statement(rows, layer), values) or b"")


@functools.lru_cache(maxsize=32)
def _postgis_statement(rows: Select, layer: str) -> Select:
    found = rows.subquery("found")
    placed = select(
        found.c.id.label("feature_id"),
        *(column for column in found.c if column.name != "geom"),
        func.ST_AsMVTGeom(
            func.ST_Transform(found.c.geom, WEB_MERCATOR),
            func.ST_TileEnvelope(*_TILE_ZXY),
            TILE_EXTENT,
            TILE_BUFFER,
            True,
        ).label("geom"),
    ).subquery("placed")
    encoded = func.ST_AsMVT(placed.table_valued(), layer, TILE_EXTENT, "geom", "feature_id", type_=LargeBinary)
    return select(encoded).select_from(placed)


def _property(value):
    return value.value if isinstance(value, enum.Enum) else value


@functools.lru_cache(maxsize=32)
def _placed_here(rows: Select) -> tuple[Select, list[str]]:
    found = rows.subquery("found")
    properties = [column for column in found.c if column.name != "geom"]
    return select(*properties, func.ST_X(found.c.geom), func.ST_Y(found.c.geom)), [column.name for column in properties]


def _encode_here(session: Session, rows: Select, layer: str, tile: Tile, values: dict) -> bytes:
    statement, names = _placed_here(rows)
    features = []
    for *row, lon, lat in session.execute(statement, values):
        named = {name: _property(value) for name, value in zip(names, row) if value is not None}
        features.append({"id": named["id"], "geometry": Point(tile.position(lon, lat)), "properties": named})
    if not features:
        return b""
    return mapbox_vector_tile.encode(
        [{"name": layer, "features": features}], default_options={"extents": TILE_EXTENT, "y_coord_down": True}
    )
