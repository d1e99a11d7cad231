"""Point-in-polygon lookup of the commune that contains a point, in bulk.

Done in Python with an STRtree so recorders and lenses get the same answer
on both backends and a 55,000-lens load needs no per-row spatial query.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry


class CommuneLocator:
    def __init__(self, communes: Iterable[tuple[int, BaseGeometry]]):
        pairs = [(commune_id, geometry) for commune_id, geometry in communes if geometry is not None]
        self._ids = np.array([commune_id for commune_id, _ in pairs], dtype=np.int64)
        self._tree = shapely.STRtree([geometry for _, geometry in pairs])

    def locate(self, lon: float, lat: float) -> int | None:
        return self.locate_many([lon], [lat])[0]

    def locate_many(self, lons: Sequence[float], lats: Sequence[float]) -> list[int | None]:
        """Commune id for each point; None where no commune contains it.

        A point on a shared border goes to the commune with the lowest id, so
        the answer never depends on the order boundaries were loaded.
        """
        result: list[int | None] = [None] * len(lons)
        if len(lons) == 0 or len(self._ids) == 0:
            return result
        points = shapely.points(np.asarray(lons, dtype=float), np.asarray(lats, dtype=float))
        point_index, tree_index = self._tree.query(points, predicate="intersects")
        for p, t in zip(point_index.tolist(), tree_index.tolist()):
            candidate = int(self._ids[t])
            if result[p] is None or candidate < result[p]:
                result[p] = candidate
        return result
