"""A GPS track (GPX, or GeoJSON with times) read into a timed route: the points and the time at each.

What a phone or a vehicle tracker exports: GPX `<trkpt lat= lon=><time>` in its `<trkseg>`s, or a GeoJSON
LineString (bare, in a Feature or in a one-feature FeatureCollection) with the times in the feature's
`properties.coordTimes` or `properties.times` (what togeojson and most converters write). Points without a
time stay untimed; the route's rules (at least two times, rising) are the request's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from xml.etree import ElementTree

from shapely.geometry import LineString

from .errors import ValidationFailed
from .messages import field_refusal, refusal
from .rules import check_lon_lat
from .upload_limits import TooDeep, load_json

#: More points than a 5 km route needs at one a second; a longer trace is thinned before it is sent.
MAX_TRACK_POINTS = 5000
FIELD = "track"


@dataclass(frozen=True)
class Track:
    route: LineString
    times: list[datetime | None]


def _refuse(reason: str) -> ValidationFailed:
    return ValidationFailed(field_refusal(FIELD, reason), {FIELD: [reason]})


def read_track(content: bytes, max_json_depth: int) -> Track:
    """The route and its times from a GPX or GeoJSON file; refused (naming `track`) when it is neither."""
    text = content.lstrip()
    if text.startswith(b"<"):
        points = _gpx_points(text)
    elif text.startswith(b"{"):
        points = _geojson_points(text, max_json_depth)
    else:
        raise _refuse(refusal("is neither GPX nor GeoJSON"))
    if len(points) < 2:
        raise _refuse(refusal("a track needs at least two points"))
    if len(points) > MAX_TRACK_POINTS:
        raise _refuse(
            refusal("has %(count)s points, more than %(most)s: thin it", count=len(points), most=MAX_TRACK_POINTS)
        )
    for lon, lat, _ in points:
        reason = check_lon_lat(lon, lat)
        if reason:
            raise _refuse(reason)
    return Track(LineString([(lon, lat) for lon, lat, _ in points]), [time for _, _, time in points])


def _time(value, where: int) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        raise _refuse(
            refusal("point %(number)s: %(value)s is not an ISO 8601 time", number=where, value=value)
        ) from None
    if moment.tzinfo is None:
        raise _refuse(refusal("point %(number)s: %(value)s has no time zone", number=where, value=value))
    return moment.astimezone(UTC)


def _number(value, where: int) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number):
        raise _refuse(refusal("point %(number)s: its coordinates are not numbers", number=where))
    return number


def _gpx_points(content: bytes) -> list[tuple[float, float, datetime | None]]:
    """Every `<trkpt>` of every track segment, in order; namespaces (GPX 1.0 or 1.1) are ignored."""
    if b"<!DOCTYPE" in content or b"<!ENTITY" in content:
        raise _refuse(refusal("a GPX file may not declare a document type or entities"))
    try:
        root = ElementTree.fromstring(content)
    except ElementTree.ParseError as error:
        raise _refuse(refusal("is not well-formed XML: %(error)s", error=str(error))) from None
    if root.tag.rpartition("}")[2] != "gpx":
        raise _refuse(refusal("is not a GPX document"))
    points = []
    for number, point in enumerate((e for e in root.iter() if e.tag.rpartition("}")[2] == "trkpt"), start=1):
        time = next((child.text for child in point if child.tag.rpartition("}")[2] == "time"), None)
        points.append((_number(point.get("lon"), number), _number(point.get("lat"), number), _time(time, number)))
    return points


def _geojson_points(content: bytes, max_depth: int) -> list[tuple[float, float, datetime | None]]:
    try:
        value = load_json(content, max_depth)
    except TooDeep as error:
        raise _refuse(error.args[0]) from None
    except ValueError:
        raise _refuse(refusal("is not valid JSON")) from None
    if isinstance(value, dict) and value.get("type") == "FeatureCollection":
        features = value.get("features") or []
        if len(features) != 1:
            raise _refuse(refusal("a GeoJSON track is one LineString feature"))
        value = features[0]
    geometry, properties = value, {}
    if isinstance(value, dict) and value.get("type") == "Feature":
        geometry, properties = value.get("geometry"), value.get("properties") or {}
    if not isinstance(geometry, dict) or geometry.get("type") != "LineString":
        raise _refuse(refusal("a GeoJSON track is one LineString feature"))
    coordinates = geometry.get("coordinates")
    times = properties.get("coordTimes", properties.get("times")) if isinstance(properties, dict) else None
    if not isinstance(coordinates, list) or not isinstance(times, list) or len(times) != len(coordinates):
        raise _refuse(refusal("a GeoJSON track gives one time per point in properties.coordTimes (or times)"))
    points = []
    for number, (position, time) in enumerate(zip(coordinates, times), start=1):
        if not isinstance(position, list) or len(position) < 2:
            raise _refuse(refusal("point %(number)s: its coordinates are not numbers", number=number))
        points.append((_number(position[0], number), _number(position[1], number), _time(time, number)))
    return points
