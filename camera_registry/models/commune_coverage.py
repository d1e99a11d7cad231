"""How much of each commune the active lenses see, kept per commune for the figures, the exports and the map.

Kept by services/commune_coverage.py. CommuneCoverage holds the areas (and road lengths) inside at least one
field of view, computed outside any write; CoverageMark names a commune whose lenses, commitments, roads or
boundary changed since (the commune figures' recount, a boundary trigger and the road loader write them);
CoverageDrawing holds the union of the fields of view clipped to the commune, simplified for a zoom band and
already serialised as GeoJSON, for the map layer.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Integer, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UtcDateTime


class CommuneCoverage(Base):
    """A commune's covered area and road length as of `computed_at`, exact until `exact_until` (the next moment
    a commitment of a lens that sees into it starts, ends or is revoked; none: until the next write) unless a
    mark is pending for it or for a commune within a lens's range of it.

    The commune's bounds are kept so the communes near a change are found without reading every boundary."""

    __tablename__ = "commune_coverage"

    commune_id: Mapped[int] = mapped_column(ForeignKey("admin_units.id"), primary_key=True, autoincrement=False)
    area_km2: Mapped[float] = mapped_column(Float)
    seen_km2: Mapped[float] = mapped_column(Float)
    shared_seen_km2: Mapped[float] = mapped_column(Float)
    #: Null when no loaded road crosses the commune.
    road_km: Mapped[float | None] = mapped_column(Float)
    road_seen_km: Mapped[float | None] = mapped_column(Float)
    road_shared_seen_km: Mapped[float | None] = mapped_column(Float)
    min_lon: Mapped[float] = mapped_column(Float)
    min_lat: Mapped[float] = mapped_column(Float)
    max_lon: Mapped[float] = mapped_column(Float)
    max_lat: Mapped[float] = mapped_column(Float)
    computed_at: Mapped[datetime] = mapped_column(UtcDateTime())
    exact_until: Mapped[datetime | None] = mapped_column(UtcDateTime())


class CoverageMark(Base):
    """A commune whose coverage a change touched (its lenses, their commitments, its roads or its boundary), and
    with it the communes within a lens's range of it; taken once the refresh has stored what it read after it."""

    __tablename__ = "coverage_marks"

    id: Mapped[int] = mapped_column(primary_key=True)
    commune_id: Mapped[int] = mapped_column(Integer, index=True)


class CoverageDrawing(Base):
    """A commune's union of active fields of view and of shared ones, clipped to it and simplified for a zoom
    band, as the GeoJSON geometries the map layer is sent."""

    __tablename__ = "coverage_drawings"

    commune_id: Mapped[int] = mapped_column(ForeignKey("admin_units.id"), primary_key=True, autoincrement=False)
    zoom: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seen_geojson: Mapped[str] = mapped_column(Text)
    shared_seen_geojson: Mapped[str] = mapped_column(Text)
