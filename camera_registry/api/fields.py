"""Marshmallow fields for GeoJSON geometry and lon/lat query parameters."""
from __future__ import annotations

import math

import marshmallow as ma
import shapely
from geoalchemy2.elements import WKBElement
from geoalchemy2.shape import to_shape
from shapely.geometry import mapping, shape

from ..services.rules import check_lon_lat


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
            raise ma.ValidationError("malformed GeoJSON: expected an object with 'type' and 'coordinates'")
        if value["type"] not in self.allowed:
            raise ma.ValidationError(f"GeoJSON type must be {' or '.join(self.allowed)}, not {value['type']!r}")
        try:
            geometry = shape(value)
        except Exception as exc:  # noqa: BLE001 - Shapely raises many kinds for bad coordinates
            raise ma.ValidationError(f"malformed GeoJSON {value['type']}: {exc}") from None
        coordinates = shapely.get_coordinates(geometry)
        if geometry.is_empty or not all(math.isfinite(c) for c in coordinates.ravel()):
            raise ma.ValidationError("malformed GeoJSON: empty geometry or coordinates that are not numbers")
        for lon, lat in coordinates:
            reason = check_lon_lat(float(lon), float(lat))
            if reason:
                raise ma.ValidationError(reason)
        if not geometry.is_valid:
            raise ma.ValidationError(f"invalid {value['type']}: {shapely.is_valid_reason(geometry)}")
        return geometry


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
            raise ma.ValidationError(f"expected {self.count} comma-separated numbers") from None
        if len(numbers) != self.count or not all(math.isfinite(n) for n in numbers):
            raise ma.ValidationError(f"expected {self.count} comma-separated numbers")
        return numbers
