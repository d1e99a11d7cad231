"""Geometry for drawing on a web map: grid cells, simplification and areas by zoom level.

Zoom follows the web-map convention (256-pixel tiles, zoom 0 = the world
in one tile), so a tolerance of one pixel is invisible on screen.
"""

from __future__ import annotations

import math

import numpy as np
import shapely
from pyproj import Geod
from shapely.geometry.base import BaseGeometry

TILE_PX = 256
_WGS84 = Geod(ellps="WGS84")


def degrees_per_pixel(zoom: float) -> float:
    """Longitude degrees one screen pixel spans at `zoom` (latitude degrees are fewer: this is the bound)."""
    return 360.0 / (TILE_PX * 2**zoom)


def grid_cell_deg(zoom: float, bbox: tuple[float, float, float, float], cell_px: int, max_cells_across: int) -> float:
    """The side of a clustering cell: `cell_px` pixels at `zoom`, but never more than
    `max_cells_across` cells along the box's longer side, so a huge box cannot ask for a huge grid."""
    min_lon, min_lat, max_lon, max_lat = bbox
    return max(degrees_per_pixel(zoom) * cell_px, max(max_lon - min_lon, max_lat - min_lat) / max_cells_across)


def simplified_for_zoom(geometry: BaseGeometry, zoom: float) -> BaseGeometry:
    """Drop vertices closer than a pixel and round coordinates to what a pixel can show."""
    tolerance = degrees_per_pixel(zoom)
    decimals = max(0, math.ceil(-math.log10(tolerance)) + 1)
    simple = shapely.simplify(geometry, tolerance, preserve_topology=True)
    return shapely.transform(simple, lambda coordinates: np.round(coordinates, decimals))


def area_km2(geometry: BaseGeometry) -> float:
    """Area on the WGS84 ellipsoid, in square kilometres."""
    area_m2, _ = _WGS84.geometry_area_perimeter(geometry)
    return abs(area_m2) / 1e6
