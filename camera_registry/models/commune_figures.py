"""The per-commune summary the figures and the coverage map read instead of every lens.

Kept by services/commune_figures.py: database triggers (migration 0014) mark the communes each write to
the registry touches, and the scheduler recounts the marked ones into CommuneFigures. CommuneShape holds each
commune's boundary simplified for a zoom and already serialised as GeoJSON; a boundary's change deletes them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Integer, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UtcDateTime


class CommuneFigures(Base):
    """A commune's registry counts as of `counted_at`, exact until `exact_until` (the next moment a commitment
    starts, ends or is revoked there; none: until the next write) unless a mark for the commune is pending."""

    __tablename__ = "commune_figures"

    commune_id: Mapped[int] = mapped_column(ForeignKey("admin_units.id"), primary_key=True, autoincrement=False)
    lenses_active: Mapped[int] = mapped_column(Integer)
    lenses_offline: Mapped[int] = mapped_column(Integer)
    shared_active_lenses: Mapped[int] = mapped_column(Integer)
    recorders: Mapped[int] = mapped_column(Integer)
    owners_household: Mapped[int] = mapped_column(Integer)
    owners_agency: Mapped[int] = mapped_column(Integer)
    owners_business: Mapped[int] = mapped_column(Integer)
    sites: Mapped[int] = mapped_column(Integer)
    counted_at: Mapped[datetime] = mapped_column(UtcDateTime())
    exact_until: Mapped[datetime | None] = mapped_column(UtcDateTime())


class CommuneFigureMark(Base):
    """A commune a write touched since it was last counted; written by triggers in the writer's transaction,
    one row per statement and commune (PostgreSQL) or per row (SQLite), and taken by the recount."""

    __tablename__ = "commune_figure_marks"

    id: Mapped[int] = mapped_column(primary_key=True)
    commune_id: Mapped[int] = mapped_column(Integer, index=True)


class CommuneShape(Base):
    """A commune's boundary simplified for one whole zoom, as the GeoJSON geometry the map is sent."""

    __tablename__ = "commune_shapes"

    commune_id: Mapped[int] = mapped_column(ForeignKey("admin_units.id"), primary_key=True, autoincrement=False)
    zoom: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    geojson: Mapped[str] = mapped_column(Text)
    area_km2: Mapped[float] = mapped_column(Float)
