"""Value rules of the registry, shared by the API schemas and the bulk importer.

Each check returns None when the value is acceptable, else the reason in
words a commune clerk can act on.
"""

from __future__ import annotations

# Vietnam's mainland and islands (Hoàng Sa, Trường Sa included), lon/lat.
VIETNAM_EXTENT = (102.14, 8.18, 117.84, 23.39)
RETENTION_DAYS = (1, 365)


def check_lon_lat(lon: float, lat: float) -> str | None:
    min_lon, min_lat, max_lon, max_lat = VIETNAM_EXTENT
    if not (min_lon <= lon <= max_lon and min_lat <= lat <= max_lat):
        return (
            f"({lon}, {lat}) is outside Vietnam's extent "
            f"(longitude {min_lon}..{max_lon}, latitude {min_lat}..{max_lat}); check that lon comes before lat"
        )
    return None


def check_bearing(bearing_deg: float | None) -> str | None:
    if bearing_deg is not None and not 0 <= bearing_deg < 360:
        return f"bearing {bearing_deg} must be at least 0 and below 360 degrees (0 = north, clockwise)"
    return None


def check_fov(fov_deg: float) -> str | None:
    if not 0 < fov_deg <= 360:
        return f"field of view {fov_deg} must be above 0 and at most 360 degrees"
    return None


def check_range(range_m: float) -> str | None:
    if not 0 < range_m <= 500:
        return f"range {range_m} must be above 0 and at most 500 metres"
    return None


def check_retention(days: int) -> str | None:
    low, high = RETENTION_DAYS
    if not low <= days <= high:
        return f"retention {days} must be between {low} and {high} days"
    return None
