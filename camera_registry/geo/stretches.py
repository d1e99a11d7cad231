"""Which stretches of a route lie inside each lens's field of view, in metres along the route.

A timed route says when the target was where; the stretch a lens saw says when it could have filmed it.
The sectors are the ones `sight` meets the route with (same frame, same polygons), so a lens routed for a
route always has a stretch.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import shapely
from shapely.geometry import LineString

from .sectors import LensView, LocalFrame, fields_of_view

#: A stretch: metres from the route's start to where the view begins and ends (equal where it only touches).
Stretch = tuple[float, float]


def vertex_metres(route: LineString) -> np.ndarray:
    """Metres along the route from its start to each vertex, measured in the route's local frame."""
    frame = LocalFrame.around(route)
    xs, ys = frame.to_metres(*np.asarray(route.coords)[:, :2].T)
    return np.concatenate(([0.0], np.cumsum(np.hypot(np.diff(xs), np.diff(ys)))))


def stretches_in_view(route: LineString, lenses: Sequence[LensView], all_round_m: float) -> list[list[Stretch]]:
    """For each lens, the stretches of `route` inside its view, in order along the route.

    A lens without a bearing watches all round, out to `all_round_m` (the request's radius, which is what
    routes it) or to the route's nearest point if the radius query found it a hair farther.
    """
    frame = LocalFrame.around(route)
    route_xs, route_ys = frame.to_metres(*np.asarray(route.coords)[:, :2].T)
    starts = np.column_stack((route_xs[:-1], route_ys[:-1]))
    ends = np.column_stack((route_xs[1:], route_ys[1:]))
    offsets = np.concatenate(([0.0], np.cumsum(np.hypot(*(ends - starts).T))))
    segments = shapely.linestrings(np.stack((starts, ends), axis=1))
    target = shapely.linestrings(route_xs, route_ys)
    lons, lats = [lens.lon for lens in lenses], [lens.lat for lens in lenses]
    xs, ys = frame.to_metres(lons, lats)
    bearings = frame.grid_bearings(
        lons, lats, [np.nan if lens.bearing_deg is None else lens.bearing_deg for lens in lenses]
    )
    stretches = []
    for i, lens in enumerate(lenses):
        if np.isnan(bearings[i]):
            reach = max(all_round_m, shapely.distance(shapely.Point(xs[i], ys[i]), target))
            stretches.append(_stretches_in_disc(xs[i], ys[i], reach, starts, ends, offsets))
            continue
        view = fields_of_view([xs[i]], [ys[i]], [bearings[i]], [lens.fov_deg], [lens.range_m])[0]
        stretches.append(_stretches_in_polygon(view, segments, starts, offsets))
    return stretches


def _stretches_in_polygon(view, segments, starts: np.ndarray, offsets: np.ndarray) -> list[Stretch]:
    """Each segment's pieces inside the polygon, as metres along the route, touching pieces joined."""
    meeting = np.flatnonzero(shapely.intersects(segments, view))
    pieces = []
    for index, part in zip(meeting, shapely.intersection(segments[meeting], view)):
        for piece in shapely.get_parts(part):
            along = offsets[index] + np.hypot(*(shapely.get_coordinates(piece) - starts[index]).T)
            pieces.append((float(along.min()), float(along.max())))
    return _joined(pieces)


def _stretches_in_disc(x: float, y: float, radius: float, starts, ends, offsets) -> list[Stretch]:
    """Each segment's piece within `radius` of (x, y), solved exactly: |start + t (end - start) - centre| = r."""
    delta = ends - starts
    relative = starts - (x, y)
    a = np.einsum("ij,ij->i", delta, delta)
    b = 2 * np.einsum("ij,ij->i", relative, delta)
    c = np.einsum("ij,ij->i", relative, relative) - radius * radius
    pieces = []
    for k in np.flatnonzero(b * b - 4 * a * c >= 0):
        if a[k] == 0:  # a repeated vertex: a point, inside or not
            if c[k] <= 0:
                pieces.append((float(offsets[k]), float(offsets[k])))
            continue
        root = np.sqrt(b[k] * b[k] - 4 * a[k] * c[k])
        low, high = max(0.0, (-b[k] - root) / (2 * a[k])), min(1.0, (-b[k] + root) / (2 * a[k]))
        if low <= high:
            length = offsets[k + 1] - offsets[k]
            pieces.append((float(offsets[k] + low * length), float(offsets[k] + high * length)))
    return _joined(pieces)


def _joined(pieces: list[Stretch]) -> list[Stretch]:
    """Pieces in order along the route, those that meet (at a vertex) as one stretch."""
    joined: list[list[float]] = []
    for low, high in sorted(pieces):
        if joined and low <= joined[-1][1] + 1e-6:
            joined[-1][1] = max(joined[-1][1], high)
        else:
            joined.append([low, high])
    return [(low, high) for low, high in joined]
