"""Value rules of the registry, shared by the API schemas and the bulk importer.

Each check returns None when the value is acceptable, else the reason in
words a commune clerk can act on.
"""

from __future__ import annotations

from .messages import Message, refusal

# Vietnam's mainland and islands (Hoàng Sa, Trường Sa included), lon/lat.
VIETNAM_EXTENT = (102.14, 8.18, 117.84, 23.39)
RETENTION_DAYS = (1, 365)
#: The longest range a lens may be given: how far a field of view can reach across a commune's edge.
MAX_RANGE_M = 500


def check_lon_lat(lon: float, lat: float) -> Message | None:
    min_lon, min_lat, max_lon, max_lat = VIETNAM_EXTENT
    if not (min_lon <= lon <= max_lon and min_lat <= lat <= max_lat):
        return refusal(
            "(%(lon)s, %(lat)s) is outside Vietnam's extent (longitude %(min_lon)s..%(max_lon)s, latitude "
            "%(min_lat)s..%(max_lat)s); check that lon comes before lat",
            lon=lon,
            lat=lat,
            min_lon=min_lon,
            max_lon=max_lon,
            min_lat=min_lat,
            max_lat=max_lat,
        )
    return None


def check_bearing(bearing_deg: float | None) -> Message | None:
    if bearing_deg is not None and not 0 <= bearing_deg < 360:
        return refusal(
            "bearing %(bearing)s must be at least 0 and below 360 degrees (0 = north, clockwise)", bearing=bearing_deg
        )
    return None


def check_fov(fov_deg: float) -> Message | None:
    if not 0 < fov_deg <= 360:
        return refusal("field of view %(fov)s must be above 0 and at most 360 degrees", fov=fov_deg)
    return None


def check_range(range_m: float) -> Message | None:
    if not 0 < range_m <= MAX_RANGE_M:
        return refusal("range %(range)s must be above 0 and at most 500 metres", range=range_m)
    return None


def check_retention(days: int) -> Message | None:
    low, high = RETENTION_DAYS
    if not low <= days <= high:
        return refusal("retention %(days)s must be between %(low)s and %(high)s days", days=days, low=low, high=high)
    return None
