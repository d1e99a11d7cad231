"""Administrative units: province, (pre-2025) district and commune, with validity periods.

The July 2025 reform merged communes and removed districts; a unit is never
rewritten, it is closed (`valid_to`) and succeeded by new units.
"""

from __future__ import annotations

import enum
from datetime import date

from geoalchemy2 import Geometry
from sqlalchemy import Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import WGS84, Base, enum_column


class AdminLevel(enum.Enum):
    PROVINCE = "province"
    DISTRICT = "district"
    COMMUNE = "commune"


class AdminUnit(Base):
    __tablename__ = "admin_units"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[AdminLevel] = mapped_column(enum_column(AdminLevel), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("admin_units.id"), index=True)
    boundary = mapped_column(Geometry("MULTIPOLYGON", srid=WGS84, spatial_index=True), nullable=True)
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    #: The commune police's duty phone, shown to owners on their link pages.
    police_phone: Mapped[str | None] = mapped_column(String(32))

    parent: Mapped[AdminUnit | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[AdminUnit]] = relationship(back_populates="parent")

    def is_valid_on(self, day: date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (self.valid_to is None or day < self.valid_to)

    def __repr__(self) -> str:
        return f"<AdminUnit {self.level.value} {self.code} {self.name!r}>"
