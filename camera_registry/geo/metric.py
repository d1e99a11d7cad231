"""Metres <-> degrees near a latitude, for envelopes that must not miss anything; metric distances and areas."""

from __future__ import annotations

import math

from pyproj import Geod
from shapely.geometry.base import BaseGeometry

from .sectors import LocalFrame

_WGS84 = Geod(ellps="WGS84")

# Shortest lengths of a degree on the WGS84 ellipsoid, so a bounding box
# built from them is always at least as large as the metric radius.
METRES_PER_DEGREE_LAT_MIN = 110_574.0
METRES_PER_DEGREE_LON_EQUATOR = 111_320.0


def expand_bounds(bounds: tuple[float, float, float, float], radius_m: float) -> tuple[float, float, float, float]:
    """The lon/lat box that holds every point within `radius_m` of `bounds`."""
    min_lon, min_lat, max_lon, max_lat = bounds
    dlat = radius_m / METRES_PER_DEGREE_LAT_MIN * 1.01
    far_lat = min(89.0, max(abs(min_lat), abs(max_lat)) + dlat)
    dlon = radius_m / (METRES_PER_DEGREE_LON_EQUATOR * math.cos(math.radians(far_lat))) * 1.01
    return (min_lon - dlon, min_lat - dlat, max_lon + dlon, max_lat + dlat)


def metres_between(a: BaseGeometry, b: BaseGeometry) -> float:
    """Shortest distance in metres between two lon/lat geometries a few kilometres apart."""
    frame = LocalFrame.around(a)
    return frame.project(a).distance(frame.project(b))


def area_km2(geometry: BaseGeometry) -> float:
    """Area in square kilometres of a lon/lat polygon on the WGS84 ellipsoid, whichever way its rings run."""
    area_m2, _ = _WGS84.geometry_area_perimeter(geometry)
    return abs(area_m2) / 1e6
