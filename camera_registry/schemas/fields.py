"""Marshmallow fields for GeoJSON geometry and lon/lat query parameters, and the bounds of what the
databases can hold: integers (ids, versions, pages, counts) and text, for every value the API is sent,
in a path, a query or a body."""

from __future__ import annotations

import math
import re

import marshmallow as ma
import shapely
from geoalchemy2.elements import WKBElement
from geoalchemy2.shape import to_shape
from shapely.geometry import mapping, shape
from werkzeug.routing import IntegerConverter, UnicodeConverter, ValidationError

from ..services.messages import N_, refusal
from ..services.rules import check_lon_lat

#: The largest value an INTEGER column holds on PostgreSQL (4 bytes; SQLite's hold 8). No id or version is
#: larger, so a larger one is refused (404 in a path, 422 in a query or body) before the database fails on it.
MAX_INT = 2**31 - 1
MIN_INT = -(2**31)
#: What PostgreSQL text cannot hold (NUL) and what UTF-8 cannot encode (lone surrogates, which JSON's
#: \ud800 escapes produce); SQLite fails on the surrogates too.
UNSTORABLE_TEXT = re.compile("[\x00\ud800-\udfff]")


#: The years a date sent to the registry may fall in: far dates overflow Python's datetime when shifted between
#: time zones (year 1 or 9999 in Vietnam time), a 500 before.
DATE_YEARS = (1900, 2999)


def plausible_date(value) -> None:
    """A marshmallow validator for Date and DateTime fields: a year in DATE_YEARS."""
    if not DATE_YEARS[0] <= value.year <= DATE_YEARS[1]:
        raise ma.ValidationError(
            refusal("must be a date between the years %(first)s and %(last)s", first=DATE_YEARS[0], last=DATE_YEARS[1])
        )


def storable_text(value: str) -> None:
    """A marshmallow validator: text both databases can store."""
    if isinstance(value, str) and UNSTORABLE_TEXT.search(value):
        raise ma.ValidationError(refusal("text may not contain NUL (\\u0000) or unpaired surrogate characters"))


def id_field(**kwargs) -> ma.fields.Integer:
    """A record's id (1 to MAX_INT) in a query or body."""
    return ma.fields.Integer(validate=ma.validate.Range(min=1, max=MAX_INT), **kwargs)


class BoundedIntegerConverter(IntegerConverter):
    """`<int:...>` in an API route: at most MAX_INT (at least MIN_INT when signed); werkzeug answers 404 for
    anything else, as for any id that does not exist. flask-smorest documents the bounds (minimum/maximum)."""

    def __init__(
        self, map, fixed_digits: int = 0, min: int | None = None, max: int | None = MAX_INT, signed: bool = False
    ) -> None:
        if signed and min is None:
            min = MIN_INT
        super().__init__(map, fixed_digits, min, max, signed)


def install_route_converters(app) -> None:
    """For every route registered after this, the web pages' and the API's: an <int:id> above what the
    databases hold, or a <name> segment with NUL, matches no route (404) instead of failing in SQL."""
    app.url_map.converters["int"] = BoundedIntegerConverter
    app.url_map.converters["default"] = app.url_map.converters["string"] = StorableTextConverter


class StorableTextConverter(UnicodeConverter):
    """The default `<name>` in an API route, without NUL: a segment with one matches no route (404)."""

    def __init__(self, map, minlength: int = 1, maxlength: int | None = None, length: int | None = None) -> None:
        super().__init__(map, minlength, maxlength, length)
        self.regex = self.regex.replace("[^/]", "[^/\\x00]", 1)

    def to_python(self, value: str) -> str:
        if UNSTORABLE_TEXT.search(value):
            raise ValidationError()
        return value


class GeoJSONGeometry(ma.fields.Field):
    """A GeoJSON geometry object in, a Shapely geometry out (and back), WGS84 lon/lat."""

    def __init__(self, *, allowed: tuple[str, ...], **kwargs):
        self.allowed = allowed
        metadata = kwargs.pop("metadata", {})
        metadata.setdefault("description", f"GeoJSON geometry ({' or '.join(allowed)}), WGS84 lon/lat")
        super().__init__(metadata={"type": "object", **metadata}, **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        geometry = to_shape(value) if isinstance(value, WKBElement) else value
        return mapping(geometry)

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, dict) or "type" not in value:
            raise ma.ValidationError(refusal("malformed GeoJSON: expected an object with 'type' and 'coordinates'"))
        if value["type"] not in self.allowed:
            raise ma.ValidationError(
                refusal(
                    "GeoJSON type must be %(allowed)s, not %(type)s",
                    allowed=" or ".join(self.allowed),
                    type=repr(value["type"]),
                )
            )
        try:
            geometry = shape(value)
        except Exception as exc:  # noqa: BLE001 - Shapely raises many kinds for bad coordinates
            raise ma.ValidationError(
                refusal("malformed GeoJSON %(type)s: %(error)s", type=value["type"], error=str(exc))
            ) from None
        coordinates = shapely.get_coordinates(geometry)
        if geometry.is_empty or not all(math.isfinite(c) for c in coordinates.ravel()):
            raise ma.ValidationError(refusal("malformed GeoJSON: empty geometry or coordinates that are not numbers"))
        for lon, lat in coordinates:
            reason = check_lon_lat(float(lon), float(lat))
            if reason:
                raise ma.ValidationError(reason)
        if not geometry.is_valid:
            raise ma.ValidationError(
                refusal("invalid %(type)s: %(reason)s", type=value["type"], reason=_invalid_reason(geometry))
            )
        return geometry


#: GEOS's reasons a shape drawn by hand most often has, in words a reader's language has (the rest stay GEOS's).
_DRAWN_SHAPE_FAULTS = {
    "Self-intersection": N_("its outline crosses or touches itself near %(place)s"),
    "Ring Self-intersection": N_("its outline crosses or touches itself near %(place)s"),
    "Too few points in geometry component": N_("it has too few distinct points near %(place)s"),
}


def _invalid_reason(geometry) -> str:
    """GEOS's reason, "Self-intersection[105.8 21.0]", as a refusal naming the place (lon, lat) when it is known."""
    reason = shapely.is_valid_reason(geometry)
    fault, _, place = reason.partition("[")
    msgid = _DRAWN_SHAPE_FAULTS.get(fault)
    return refusal(msgid, place=place.rstrip("]").replace(" ", ", ")) if msgid else reason


class NumberList(ma.fields.Field):
    """Comma-separated numbers in a query string, e.g. bbox=105.8,21.0,105.9,21.1."""

    def __init__(self, count: int, **kwargs):
        self.count = count
        metadata = {"type": "string", **kwargs.pop("metadata", {})}
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            numbers = [float(part) for part in str(value).split(",")]
        except ValueError:
            raise ma.ValidationError(self._refusal()) from None
        if len(numbers) != self.count or not all(math.isfinite(n) for n in numbers):
            raise ma.ValidationError(self._refusal())
        return numbers

    def _refusal(self):
        return refusal("expected %(count)s comma-separated numbers", count=self.count)
