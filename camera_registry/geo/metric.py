"""Metres <-> degrees near a latitude, for envelopes that must not miss anything."""
from __future__ import annotations

import math

from pyproj import Transformer
from shapely.geometry.base import BaseGeometry
from shapely.ops import transform

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
    """Shortest distance in metres between two lon/lat geometries a few kilometres apart.

    Both are projected to an azimuthal equidistant plane centred on `a`,
    exact at the centre and within 0.01% over tens of kilometres.
    """
    centre = a.centroid
    to_plane = Transformer.from_crs(
        "EPSG:4326", f"+proj=aeqd +lat_0={centre.y} +lon_0={centre.x} +datum=WGS84 +units=m", always_xy=True
    ).transform
    return transform(to_plane, a).distance(transform(to_plane, b))
