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
    all_round = np.isnan(bearings)
    pieces: list[list[Stretch]] = [[] for _ in lenses]
    for i in np.flatnonzero(all_round):
        reach = max(all_round_m, shapely.distance(shapely.Point(xs[i], ys[i]), target))
        pieces[i] = _pieces_in_disc(xs[i], ys[i], reach, starts, ends, offsets)
    facing = np.flatnonzero(~all_round)
    if not facing.size:
        return [_joined(found) for found in pieces]
    views = fields_of_view(
        xs[facing],
        ys[facing],
        bearings[facing],
        [lenses[i].fov_deg for i in facing],
        [lenses[i].range_m for i in facing],
    )
    # Every (view, segment) pair that meets, found through a tree of the segments, cut in one call.
    view_index, segment_index = shapely.STRtree(segments).query(views, predicate="intersects")
    parts, part_of = shapely.get_parts(
        shapely.intersection(segments[segment_index], views[view_index]), return_index=True
    )
    for part, pair in zip(parts, part_of.tolist()):
        k = segment_index[pair]
        along = offsets[k] + np.hypot(*(shapely.get_coordinates(part) - starts[k]).T)
        pieces[facing[view_index[pair]]].append((float(along.min()), float(along.max())))
    return [_joined(found) for found in pieces]


def _pieces_in_disc(x: float, y: float, radius: float, starts, ends, offsets) -> list[Stretch]:
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
    return pieces


def _joined(pieces: list[Stretch]) -> list[Stretch]:
    """Pieces in order along the route, those that meet (at a vertex) as one stretch."""
    joined: list[list[float]] = []
    for low, high in sorted(pieces):
        if joined and low <= joined[-1][1] + 1e-6:
            joined[-1][1] = max(joined[-1][1], high)
        else:
            joined.append([low, high])
    return [(low, high) for low, high in joined]
