"""For the tests that build a registry by hand: admin units whose boundaries are simple boxes."""

from __future__ import annotations

from geoalchemy2.shape import from_shape
from shapely import MultiPolygon, box

from camera_registry.models import AdminLevel, AdminUnit

#: (west, south, east, north) of the `world` fixture's communes A and B, side by side.
COMMUNE_A_BOX = (105.80, 21.00, 105.85, 21.05)
COMMUNE_B_BOX = (105.85, 21.00, 105.90, 21.05)


def admin_unit(code, name, level=AdminLevel.COMMUNE, parent=None, bounds=None) -> AdminUnit:
    """An admin unit (a commune unless told), its boundary the box `bounds` when given."""
    return AdminUnit(
        code=code,
        name=name,
        level=level,
        parent=parent,
        boundary=from_shape(MultiPolygon([box(*bounds)]), srid=4326) if bounds else None,
    )
