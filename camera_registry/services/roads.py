"""The road layer coverage measures road length against: loaded from a GeoJSON FeatureCollection of lines.

A file is checked whole before anything is written: every feature must be a LineString or a MultiLineString
(each part stored as a line of its own) of at least two positions inside Vietnam; a refusal names each feature
by its index. Loading or clearing marks the communes the loaded and the removed roads cross, so the coverage
refresh measures them again.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from datetime import datetime

import shapely
from geoalchemy2.shape import from_shape, to_shape
from shapely.geometry import LineString
from shapely.geometry.base import BaseGeometry
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from ..geo.spatial import within_envelope
from ..models import WGS84, AdminLevel, AdminUnit, CommuneCoverage, Road
from .commune_coverage import mark_communes
from .errors import ValidationFailed
from .messages import Message, refusal
from .rules import check_lon_lat

#: Refusals listed per file at most: a file of the wrong kind would otherwise list every feature.
MAX_REASONS = 20
LINE_KINDS = ("LineString", "MultiLineString")


def _parts(index: int, geometry: object) -> tuple[list[list[tuple[float, float]]], Message | None]:
    """A feature's lines as lists of (lon, lat), or the reason it is refused."""
    if not isinstance(geometry, dict) or geometry.get("type") not in LINE_KINDS:
        kind = geometry.get("type") if isinstance(geometry, dict) else None
        return [], refusal("a road must be a LineString or a MultiLineString, not %(kind)s", kind=kind or "nothing")
    coordinates = geometry.get("coordinates")
    lines = [coordinates] if geometry["type"] == "LineString" else coordinates
    if not isinstance(lines, list | tuple) or not lines:
        return [], refusal("a road needs coordinates")
    parts = []
    for line in lines:
        if not isinstance(line, list | tuple) or len(line) < 2:
            return [], refusal("each line of a road needs at least two positions")
        positions = []
        for position in line:
            if (
                not isinstance(position, list | tuple)
                or len(position) < 2
                or not all(isinstance(value, int | float) and math.isfinite(value) for value in position[:2])
            ):
                return [], refusal("%(position)s is not a position [longitude, latitude]", position=position)
            lon, lat = float(position[0]), float(position[1])
            outside = check_lon_lat(lon, lat)
            if outside is not None:
                return [], outside
            positions.append((lon, lat))
        parts.append(positions)
    return parts, None


def read_roads(document: object) -> list[dict]:
    """The lines of a GeoJSON FeatureCollection of roads, as rows (name, kind, line); ValidationFailed naming
    every refused feature (up to MAX_REASONS) when any is."""
    features = document.get("features") if isinstance(document, dict) else None
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection" or not isinstance(features, list):
        raise ValidationFailed(
            refusal("the road file was refused"),
            {"type": [refusal("a road file must be a GeoJSON FeatureCollection")]},
        )
    rows, reasons = [], {}
    for index, feature in enumerate(features):
        if not isinstance(feature, dict):
            reasons[f"features[{index}]"] = [refusal("a feature must be a GeoJSON object")]
            continue
        parts, reason = _parts(index, feature.get("geometry"))
        if reason is not None:
            reasons[f"features[{index}].geometry"] = [reason]
            continue
        properties = feature.get("properties") or {}
        name, kind = properties.get("name"), properties.get("highway")
        rows += [
            {
                "name": str(name)[:200] if name is not None else None,
                "kind": str(kind)[:64] if kind is not None else None,
                "line": LineString(part),
            }
            for part in parts
        ]
    if reasons:
        shown = dict(list(reasons.items())[:MAX_REASONS])
        raise ValidationFailed(refusal("%(count)s of the road file's features were refused", count=len(reasons)), shown)
    return rows


def load_roads(session: Session, document: object, source: str, now: datetime, *, replace: bool = False) -> Counter:
    """Add the file's roads to the layer (`replace`: in place of every road loaded before), in the session's
    transaction; nothing is written if any feature is refused."""
    rows = read_roads(document)
    counts = clear_roads(session) if replace else Counter()
    if rows:
        session.execute(
            insert(Road),
            [
                {
                    "name": row["name"],
                    "kind": row["kind"],
                    "geometry": from_shape(row["line"], srid=WGS84),
                    "source": source[:200],
                    "loaded_at": now,
                }
                for row in rows
            ],
        )
    crossed = _communes_crossed(session, [row["line"] for row in rows])
    mark_communes(session, crossed)
    counts.update(roads_loaded=len(rows), communes_marked=len(crossed))
    return counts


def clear_roads(session: Session) -> Counter:
    """Remove every loaded road; mark the communes they crossed."""
    lines = [to_shape(line) for line in session.scalars(select(Road.geometry))]
    crossed = _communes_crossed(session, lines) | set(
        session.scalars(select(CommuneCoverage.commune_id).where(CommuneCoverage.road_km.is_not(None)))
    )
    removed = session.execute(delete(Road)).rowcount
    mark_communes(session, crossed)
    return Counter(roads_removed=removed, communes_marked=len(crossed))


def _communes_crossed(session: Session, lines: Iterable[BaseGeometry]) -> set[int]:
    """The communes whose drawn boundary meets any of these lines."""
    lines = list(lines)
    if not lines:
        return set()
    tree = shapely.STRtree(lines)
    box = shapely.total_bounds(lines)
    crossed = set()
    for unit_id, boundary in session.execute(
        select(AdminUnit.id, AdminUnit.boundary).where(
            AdminUnit.level == AdminLevel.COMMUNE,
            AdminUnit.boundary.is_not(None),
            within_envelope(session.get_bind(), AdminUnit.boundary, tuple(box)),
        )
    ):
        if len(tree.query(to_shape(boundary), predicate="intersects")):
            crossed.add(unit_id)
    return crossed
