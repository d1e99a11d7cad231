"""Coordinates as officers paste them: decimal degrees, degrees-minutes-seconds, degrees and decimal minutes, and
links from map apps (Google Maps, OpenStreetMap, Apple Maps, geo: URIs).

Pure functions: text in, (lon, lat) out. Text that is plainly not coordinates gives None (it is a place name to
search for); text that is meant as coordinates but cannot be used raises QueryProblem, which says why.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, unquote, urlsplit

from .errors import ValidationFailed
from .rules import VIETNAM_EXTENT, check_lon_lat

#: Each problem's message, with its values as %(name)s: the pages translate the message, the API shows it.
UNREADABLE = (
    "Could not read these coordinates: give latitude and longitude, "
    "e.g. 21.0132, 105.8262 or 21°00'47.5\"N 105°49'34.3\"E."
)
LATITUDE_RANGE = "Latitude %(value)s is outside -90 to 90."
LONGITUDE_RANGE = "Longitude %(value)s is outside -180 to 180."
SIXTY = "Minutes and seconds must be below 60 (%(value)s)."
HEMISPHERES = "Give one latitude (N or S) and one longitude (E or W)."
OUTSIDE_VIETNAM = "%(lat)s, %(lon)s (latitude, longitude) is outside Vietnam."
LINK_WITHOUT_COORDINATES = (
    "This link holds no coordinates (short links cannot be read here): "
    "open it, drop a pin and copy the coordinates or the full link."
)


class QueryProblem(ValidationFailed):
    """Text typed into the place search that cannot be used, such as coordinates out of range; `template` and
    `values` let a page translate the message."""

    def __init__(self, template: str, field: str = "q", **values: object):
        message = template % values if values else template
        super().__init__(message, {field: [message]})
        self.template = template
        self.values = values


# Marks as people and apps type them, reduced to one of each: ° ' " (two primes are a double prime).
_MARKS = str.maketrans({"º": "°", "˚": "°", "′": "'", "’": "'", "‘": "'", "´": "'", "″": '"', "”": '"', "“": '"'})
_NUMBER = r"\d+(?:\.\d+)?"
_BODY = (
    rf"(?P<{{p}}sign>[-+])?(?P<{{p}}deg>{_NUMBER})(?P<{{p}}mark>\s*°)?"
    rf"(?:\s*(?P<{{p}}min>{_NUMBER})\s*')?(?:\s*(?P<{{p}}sec>{_NUMBER})\s*\")?"
)
#: Between the two: a comma, semicolon, slash or space; nothing only after a hemisphere letter or a mark.
_SEPARATOR = r"(?:\s*[,;/]\s*|\s+|(?<=[NSEWnsew°'\"]))"
_SUFFIXED = re.compile(
    "".join(rf"{_BODY.format(p=p)}\s*(?P<{p}hemi>[NSEW])?" + (_SEPARATOR if p == "a_" else "") for p in ("a_", "b_")),
    re.IGNORECASE,
)
_PREFIXED = re.compile(
    "".join(rf"(?P<{p}hemi>[NSEW])\s*{_BODY.format(p=p)}" + (_SEPARATOR if p == "a_" else "") for p in ("a_", "b_")),
    re.IGNORECASE,
)
#: Only what coordinates are written with: text of nothing else may have been meant as coordinates.
_COORDINATE_CHARACTERS = re.compile(r"[\d\s.,;/°'\"+\-NSEW]+", re.IGNORECASE)
_GOOGLE_PLACE = re.compile(rf"!3d(-?{_NUMBER})!4d(-?{_NUMBER})")
_GOOGLE_VIEW = re.compile(rf"/@(-?{_NUMBER}),(-?{_NUMBER})")
_OSM_MAP = re.compile(rf"map=[\d.]+/(-?{_NUMBER})/(-?{_NUMBER})")
#: Query parameters whose value is "lat,lon" in Google Maps, Apple Maps and others, most telling first.
_LAT_LON_PARAMETERS = ("q", "query", "ll", "daddr", "destination", "center", "sll")


def parse_coordinates(text: str) -> tuple[float, float] | None:
    """The (lon, lat) `text` gives, None when it is not coordinates at all; QueryProblem when it is meant as
    coordinates (a link, numbers and degree marks) that cannot be used."""
    text = text.strip()
    lowered = text.lower()
    if lowered.startswith("geo:"):
        return _checked(_geo_uri(text[4:]))
    if lowered.startswith(("http://", "https://", "www.", "maps.")):
        return _checked(_from_link(text))
    text = text.translate(_MARKS).replace("''", '"')
    found = _plain(text)
    if found is not None:
        return _checked(found)
    if _COORDINATE_CHARACTERS.fullmatch(text) and _meant_as_coordinates(text):
        raise QueryProblem(UNREADABLE)
    return None


def _meant_as_coordinates(text: str) -> bool:
    """Degree marks, two numbers with decimals, or decimal commas; not "12 34", a house and a lane number."""
    numbers = re.findall(_NUMBER, text)
    return bool(
        re.search("[°'\"]", text)
        or (len(numbers) >= 2 and any("." in number for number in numbers))
        or re.search(r"\d,\d{4}", text)
    )


def _checked(lat_lon: tuple[float, float] | None) -> tuple[float, float]:
    """(lon, lat) from (lat, lon), each in range and inside Vietnam."""
    if lat_lon is None:
        raise QueryProblem(UNREADABLE)
    lat, lon = lat_lon
    if not -90 <= lat <= 90:
        raise QueryProblem(LATITUDE_RANGE, value=_shown(lat))
    if not -180 <= lon <= 180:
        raise QueryProblem(LONGITUDE_RANGE, value=_shown(lon))
    if check_lon_lat(lon, lat):
        raise QueryProblem(OUTSIDE_VIETNAM, lat=_shown(lat), lon=_shown(lon))
    return lon, lat


def _shown(value: float) -> str:
    return f"{value:.6f}".rstrip("0").rstrip(".")


def _plain(text: str) -> tuple[float, float] | None:
    """(lat, lon) from two written coordinates, in whichever order the hemispheres or Vietnam's ranges tell."""
    pattern = _PREFIXED if text[:1].upper() in ("N", "S", "E", "W") else _SUFFIXED
    match = pattern.fullmatch(text)
    if match is None:
        return None
    parts = [_degrees(match, p) for p in ("a_", "b_")]
    hemispheres = [(match.group(f"{p}hemi") or "").upper() for p in ("a_", "b_")]
    marked = any(match.group(f"{p}{unit}") for p in ("a_", "b_") for unit in ("mark", "min", "sec"))
    if not marked and not any(hemispheres) and "." not in text:
        return None  # two whole numbers ("12 34") are more likely a house number and a lane than a place
    if any(hemispheres):
        return _by_hemisphere(parts, hemispheres)
    first, second = parts
    west, south, east, north = VIETNAM_EXTENT
    if west <= first <= east and south <= second <= north:
        return second, first  # lon, lat: only longitude is that large in Vietnam, so the order is certain
    return first, second


def _degrees(match: re.Match, p: str) -> float:
    degrees, minutes, seconds = (match.group(f"{p}{unit}") for unit in ("deg", "min", "sec"))
    for part, finer in ((degrees, minutes or seconds), (minutes, seconds)):
        if part and finer and "." in part:
            raise QueryProblem(UNREADABLE)  # only the last part may have decimals
    for part in (minutes, seconds):
        if part and float(part) >= 60:
            raise QueryProblem(SIXTY, value=part)
    value = float(degrees) + float(minutes or 0) / 60 + float(seconds or 0) / 3600
    return -value if match.group(f"{p}sign") == "-" else value


def _by_hemisphere(parts: list[float], hemispheres: list[str]) -> tuple[float, float]:
    axes = ["lat" if h in "NS" and h else "lon" if h else "" for h in hemispheres]
    if "" in axes:
        axes[axes.index("")] = "lon" if axes[1 - axes.index("")] == "lat" else "lat"
    if sorted(axes) != ["lat", "lon"]:
        raise QueryProblem(HEMISPHERES)
    signed = {axis: -value if h in ("S", "W") else value for axis, value, h in zip(axes, parts, hemispheres)}
    return signed["lat"], signed["lon"]


def _geo_uri(rest: str) -> tuple[float, float] | None:
    """geo:lat,lon[,alt][;u=...][?q=lat,lon(label)]; Android writes geo:0,0?q=... for a pin."""
    path, _, query = rest.partition("?")
    found = _lat_lon(path.split(";")[0])
    if found == (0.0, 0.0) or found is None:
        pinned = parse_qs(query).get("q", [""])[0]
        return _lat_lon(pinned.split("(")[0]) or found
    return found


def _from_link(link: str) -> tuple[float, float] | None:
    """(lat, lon) of a map app's link: the pin where the link has one, else the centre of its view."""
    link = unquote(link if "://" in link else f"https://{link}")
    parts = urlsplit(link)
    places = _GOOGLE_PLACE.findall(link)
    if places:
        return float(places[-1][0]), float(places[-1][1])  # the last !3d!4d pair is the place the link shows
    query = parse_qs(parts.query)
    if "mlat" in query and "mlon" in query:
        return _lat_lon(f"{query['mlat'][0]},{query['mlon'][0]}")
    for name in _LAT_LON_PARAMETERS:
        found = next((_lat_lon(value) for value in query.get(name, ()) if _lat_lon(value)), None)
        if found:
            return found
    for pattern, where in ((_OSM_MAP, parts.fragment), (_GOOGLE_VIEW, parts.path)):
        view = pattern.search(where)
        if view:
            return float(view.group(1)), float(view.group(2))
    raise QueryProblem(LINK_WITHOUT_COORDINATES)


def _lat_lon(value: str) -> tuple[float, float] | None:
    """(lat, lon) from "lat,lon" (apps prefix "loc:" at times), else None."""
    match = re.fullmatch(rf"\s*(?:loc:)?\s*(-?{_NUMBER})\s*,\s*(-?{_NUMBER})(?:,[^,]*)?\s*", value)
    return (float(match.group(1)), float(match.group(2))) if match else None
