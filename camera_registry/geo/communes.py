"""Point-in-polygon lookup of the commune that contains a point, in bulk.

Done in Python with an STRtree so recorders and lenses get the same answer
on both backends and a 55,000-lens load needs no per-row spatial query.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry


class CommuneLocator:
    """Finds the commune key (an id, or any object) whose boundary holds each point.

    A point on a shared border goes to the commune listed first, so callers
    pass communes in a stable order (by id) and the answer never depends on
    the order boundaries were loaded.
    """

    def __init__(self, communes: Iterable[tuple[Hashable, BaseGeometry]]):
        pairs = [(key, geometry) for key, geometry in communes if geometry is not None]
        self._keys = [key for key, _ in pairs]
        self._tree = shapely.STRtree([geometry for _, geometry in pairs])

    def locate(self, lon: float, lat: float):
        return self.locate_many([lon], [lat])[0]

    def locate_many(self, lons: Sequence[float], lats: Sequence[float]) -> list:
        """The key of the commune holding each point; None where none does."""
        best: list[int | None] = [None] * len(lons)
        if len(lons) == 0 or not self._keys:
            return list(best)
        points = shapely.points(np.asarray(lons, dtype=float), np.asarray(lats, dtype=float))
        point_index, tree_index = self._tree.query(points, predicate="intersects")
        for p, t in zip(point_index.tolist(), tree_index.tolist()):
            if best[p] is None or t < best[p]:
                best[p] = t
        return [None if t is None else self._keys[t] for t in best]
