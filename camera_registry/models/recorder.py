"""Recorders (DVR/NVR, "đầu thu") and their lenses ("mắt camera").

Both carry the commune that contains their point, derived when written
(see services.registry) so per-commune figures never need a spatial join.
"""

from __future__ import annotations

import enum

from sqlalchemy import CheckConstraint, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .admin_unit import AdminUnit
from .base import Base, enum_column, point_column
from .owner import Owner
from .site import Site


class RecorderStatus(enum.Enum):
    ACTIVE = "active"
    OFFLINE = "offline"
    REMOVED = "removed"


class LensKind(enum.Enum):
    FIXED = "fixed"
    DOME = "dome"
    PTZ = "ptz"


class LensStatus(enum.Enum):
    ACTIVE = "active"
    OFFLINE = "offline"
    REMOVED = "removed"


class Recorder(Base):
    __tablename__ = "recorders"
    __table_args__ = (CheckConstraint("retention_days BETWEEN 1 AND 365", name="retention_days_range"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(64), unique=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("owners.id"), index=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"), index=True)
    commune_id: Mapped[int | None] = mapped_column(ForeignKey("admin_units.id"), index=True)
    point = mapped_column(point_column(), nullable=False)
    retention_days: Mapped[int] = mapped_column(Integer)
    make: Mapped[str | None] = mapped_column(String(100))
    model: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[RecorderStatus] = mapped_column(enum_column(RecorderStatus), default=RecorderStatus.ACTIVE)
    #: Bumped on every change; a write names the version it read and a stale one is refused (409).
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    owner: Mapped[Owner] = relationship(back_populates="recorders")
    site: Mapped[Site | None] = relationship()
    commune: Mapped[AdminUnit | None] = relationship()
    lenses: Mapped[list[Lens]] = relationship(back_populates="recorder")

    __mapper_args__ = {"version_id_col": version}  # every ORM UPDATE bumps it and is refused if it is stale

    shared = None  # set per read by services.commitments.mark_shared, never stored


class Lens(Base):
    __tablename__ = "lenses"
    __table_args__ = (
        CheckConstraint("bearing_deg IS NULL OR (bearing_deg >= 0 AND bearing_deg < 360)", name="bearing_range"),
        CheckConstraint("fov_deg > 0 AND fov_deg <= 360", name="fov_range"),
        CheckConstraint("range_m > 0", name="range_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(64), unique=True)
    recorder_id: Mapped[int] = mapped_column(ForeignKey("recorders.id"), index=True)
    commune_id: Mapped[int | None] = mapped_column(ForeignKey("admin_units.id"), index=True)
    point = mapped_column(point_column(), nullable=False)
    bearing_deg: Mapped[float | None] = mapped_column(Float)
    fov_deg: Mapped[float] = mapped_column(Float, default=90.0)
    range_m: Mapped[float] = mapped_column(Float, default=30.0)
    height_m: Mapped[float | None] = mapped_column(Float)
    kind: Mapped[LensKind] = mapped_column(enum_column(LensKind), default=LensKind.FIXED)
    status: Mapped[LensStatus] = mapped_column(enum_column(LensStatus), default=LensStatus.ACTIVE, index=True)
    #: Bumped on every change; a write names the version it read and a stale one is refused (409).
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    recorder: Mapped[Recorder] = relationship(back_populates="lenses")
    commune: Mapped[AdminUnit | None] = relationship()

    __mapper_args__ = {"version_id_col": version}  # every ORM UPDATE bumps it and is refused if it is stale

    shared = None  # set per read by services.commitments.mark_shared, never stored
