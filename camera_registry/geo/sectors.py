"""Lens field-of-view sectors and whether an incident falls inside them.

An incident with its search radius spans a few kilometres at most, so an
azimuthal equidistant projection centred on it measures that area to
centimetres; sectors are built and intersected there with Shapely.
Coordinates in and out are lon/lat (x, y) everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from numpy.polynomial import polynomial
from pyproj import Transformer
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

# Arc vertices at most 10° apart: a chord then falls short of the arc by at
# most r(1 - cos 5°) = 0.38 % of the range, under the 0.5 % we allow.
MAX_ARC_STEP_DEG = 10.0
# A step north (about 1 m) to find which way the meridian runs in the frame.
_NORTH_STEP_DEG = 1e-5
#: `to_lon_lat_within`'s bicubic, fitted on a grid of this many points a side.
_FIT_DEGREE, _FIT_GRID = 3, 9


class LocalFrame:
    """Metres east (x) and north (y) of a centre on the WGS84 ellipsoid, and back to lon/lat.

    A PROJ pipeline taking lon/lat in that order (what `always_xy=True` gives
    `Transformer.from_crs`), built in ~0.1 ms where `from_crs` takes ~15 ms:
    routing builds one frame per request.
    """

    def __init__(self, centre_lon: float, centre_lat: float):
        self._transformer = Transformer.from_pipeline(
            "+proj=pipeline +step +proj=unitconvert +xy_in=deg +xy_out=rad "
            f"+step +proj=aeqd +lon_0={centre_lon!r} +lat_0={centre_lat!r} +ellps=WGS84"
        )

    @classmethod
    def around(cls, geometry: BaseGeometry) -> LocalFrame:
        """Centred on the middle of the geometry's bounds, so no part of it is far from the centre."""
        min_lon, min_lat, max_lon, max_lat = geometry.bounds
        return cls((min_lon + max_lon) / 2, (min_lat + max_lat) / 2)

    def to_metres(self, lons, lats) -> tuple[np.ndarray, np.ndarray]:
        xs, ys = self._transformer.transform(np.asarray(lons, dtype=float), np.asarray(lats, dtype=float))
        return np.asarray(xs), np.asarray(ys)

    def to_lon_lat(self, xs, ys) -> tuple[np.ndarray, np.ndarray]:
        lons, lats = self._transformer.transform(
            np.asarray(xs, dtype=float), np.asarray(ys, dtype=float), direction="INVERSE"
        )
        return np.asarray(lons), np.asarray(lats)

    def to_lon_lat_within(self, bounds_m: tuple[float, float, float, float], tolerance_m: float = 0.01):
        """`to_lon_lat` for points inside `bounds_m` (min x, min y, max x, max y), as a bicubic in x and y fitted to
        exact points: the commune drawings take hundreds of thousands of vertices back to lon/lat, which the
        ellipsoidal inverse takes about 0.4 s for 800,000 points, the bicubic 0.07-0.25 s. Checked on a finer
        grid than it was fitted on; where it would stray more than `tolerance_m` (a box far wider than a
        commune), the exact inverse is handed back instead."""
        if not np.all(np.isfinite(bounds_m)):  # the bounds of nothing
            return self.to_lon_lat
        min_x, min_y, max_x, max_y = bounds_m
        centre_x, centre_y = (min_x + max_x) / 2, (min_y + max_y) / 2
        half_x, half_y = max((max_x - min_x) / 2, 1.0), max((max_y - min_y) / 2, 1.0)

        def scaled(xs, ys) -> tuple[np.ndarray, np.ndarray]:
            return (np.asarray(xs, dtype=float) - centre_x) / half_x, (np.asarray(ys, dtype=float) - centre_y) / half_y

        def grid(count: int) -> tuple[np.ndarray, np.ndarray]:
            xs, ys = np.meshgrid(np.linspace(min_x, max_x, count), np.linspace(min_y, max_y, count))
            return xs.ravel(), ys.ravel()

        fit_xs, fit_ys = grid(_FIT_GRID)
        design = polynomial.polyvander2d(*scaled(fit_xs, fit_ys), (_FIT_DEGREE, _FIT_DEGREE))
        shape = (_FIT_DEGREE + 1, _FIT_DEGREE + 1)
        lon_coefficients, lat_coefficients = (
            np.linalg.lstsq(design, values, rcond=None)[0].reshape(shape) for values in self.to_lon_lat(fit_xs, fit_ys)
        )

        def fitted(xs, ys) -> tuple[np.ndarray, np.ndarray]:
            us, vs = scaled(xs, ys)
            return polynomial.polyval2d(us, vs, lon_coefficients), polynomial.polyval2d(us, vs, lat_coefficients)

        check_xs, check_ys = grid(2 * _FIT_GRID - 1)
        back_xs, back_ys = self.to_metres(*fitted(check_xs, check_ys))
        return fitted if np.hypot(back_xs - check_xs, back_ys - check_ys).max() <= tolerance_m else self.to_lon_lat

    def project(self, geometry: BaseGeometry) -> BaseGeometry:
        return shapely.transform(geometry, self.to_metres, interleaved=False)

    def grid_bearings(self, lons, lats, bearings_deg) -> np.ndarray:
        """Compass bearings at each point turned into bearings from the frame's y axis.

        Away from the centre the meridians lean off the y axis (about 0.01° at
        3 km); uncorrected, that shifts the far edge of a 500 m sector by ~9 cm.
        """
        lats = np.asarray(lats, dtype=float)
        xs, ys = self.to_metres(lons, lats)
        north_xs, north_ys = self.to_metres(lons, lats + _NORTH_STEP_DEG)
        convergence = np.degrees(np.arctan2(north_xs - xs, north_ys - ys))
        return np.asarray(bearings_deg, dtype=float) + convergence


def field_of_view(apex_xy: tuple[float, float], bearing_deg: float, fov_deg: float, range_m: float) -> Polygon:
    """The sector a lens sees, in a metric frame: apex at the lens, `fov_deg` wide around `bearing_deg`.

    Bearings are clockwise from north (the y axis), so bearing 350 with fov 40
    spans 330..10 through north; fov 360 is a full disc. Arc vertices lie on
    the circle, so the polygon is inside the true sector by < 0.5 % of range.
    """
    return fields_of_view([apex_xy[0]], [apex_xy[1]], [bearing_deg], [fov_deg], [range_m])[0]


def fields_of_view(apex_xs, apex_ys, bearings_deg, fovs_deg, ranges_m) -> np.ndarray:
    """`field_of_view` of many lenses, as an array of polygons built in one call: a route meets hundreds."""
    apex_xs, apex_ys, bearings, fovs, ranges = (
        np.asarray(values, dtype=float) for values in (apex_xs, apex_ys, bearings_deg, fovs_deg, ranges_m)
    )
    steps = np.maximum(1, np.ceil(fovs / MAX_ARC_STEP_DEG)).astype(int)
    sector = fovs < 360
    # A sector's arc runs from one side to the other and closes through the apex; a disc's ring
    # leaves out the last arc vertex, which is its first.
    arc_counts = steps + sector
    lens = np.repeat(np.arange(len(fovs)), arc_counts)
    position = np.arange(arc_counts.sum()) - np.repeat(np.cumsum(arc_counts) - arc_counts, arc_counts)
    angles = np.radians(bearings[lens] - fovs[lens] / 2 + fovs[lens] * position / steps[lens])
    arcs = np.column_stack(
        (apex_xs[lens] + ranges[lens] * np.sin(angles), apex_ys[lens] + ranges[lens] * np.cos(angles))
    )
    apexes = np.column_stack((apex_xs[sector], apex_ys[sector]))
    rings = np.concatenate((lens, np.flatnonzero(sector)))
    order = np.argsort(rings, kind="stable")  # each ring's arc, then its apex
    coords = np.concatenate((arcs, apexes))[order]
    return shapely.polygons(shapely.linearrings(coords, indices=rings[order]))


@dataclass(frozen=True)
class LensView:
    """Where a lens is (lon/lat) and what it faces; no bearing means it watches all round."""

    lon: float
    lat: float
    bearing_deg: float | None
    fov_deg: float
    range_m: float


@dataclass(frozen=True)
class Sighting:
    """Whether the incident crosses a lens's sector, and its distance from the lens in metres."""

    in_view: bool
    distance_m: float


def sight(incident: BaseGeometry, lenses: Sequence[LensView]) -> list[Sighting]:
    """For each lens, whether `incident` (a lon/lat Point, LineString or Polygon) meets its sector.

    Meeting is sharing any point, edges included: a polygon meets the sector
    of every lens standing inside it, and of every lens whose view reaches
    its outline or holds it whole; distance to a polygon is 0 inside it.
    A lens without a bearing is in view whatever the distance: the caller's
    radius alone decides (DESIGN.md §5). Sectors are only built for lenses
    within range, since a sector never reaches past its range.
    """
    if not lenses:
        return []
    frame = LocalFrame.around(incident)
    target = frame.project(incident)
    lons = [lens.lon for lens in lenses]
    lats = [lens.lat for lens in lenses]
    xs, ys = frame.to_metres(lons, lats)
    distances = shapely.distance(shapely.points(xs, ys), target)
    bearings = frame.grid_bearings(
        lons, lats, [np.nan if lens.bearing_deg is None else lens.bearing_deg for lens in lenses]
    )
    ranges = np.array([lens.range_m for lens in lenses])
    fovs = np.array([lens.fov_deg for lens in lenses])
    no_bearing = np.isnan(bearings)
    reached = ~no_bearing & (distances <= ranges)
    in_view = no_bearing.copy()
    sectors = fields_of_view(xs[reached], ys[reached], bearings[reached], fovs[reached], ranges[reached])
    in_view[reached] = shapely.intersects(sectors, target)
    return [Sighting(bool(seen), distance) for seen, distance in zip(in_view.tolist(), distances.tolist())]
