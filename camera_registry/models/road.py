"""The road layer: street centre lines loaded from a GeoJSON extract (OpenStreetMap's, say), one line a row.

Coverage measures the share of each commune's road length inside a field of view against it; with no road
layer loaded the road figures are null."""

from __future__ import annotations

from datetime import datetime

from geoalchemy2 import Geometry
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from .base import WGS84, Base, UtcDateTime


class Road(Base):
    """One line of the road layer: a MultiLineString feature is stored as one row per part."""

    __tablename__ = "roads"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    #: The feature's `highway` property (OpenStreetMap's road class: primary, residential, ...).
    kind: Mapped[str | None] = mapped_column(String(64))
    geometry = mapped_column(Geometry("LINESTRING", srid=WGS84, spatial_index=True), nullable=False)
    #: What the line was loaded from (`--source`, else the file's name), and when.
    source: Mapped[str] = mapped_column(String(200))
    loaded_at: Mapped[datetime] = mapped_column(UtcDateTime())
