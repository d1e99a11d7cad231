"""Administrative units: province, (pre-2025) district and commune, with validity periods.

The July 2025 reform merged communes and removed districts; a unit is never
rewritten, it is closed (`valid_to`) and succeeded by new units.
"""

from __future__ import annotations

import enum
from datetime import date

from geoalchemy2 import Geometry
from sqlalchemy import ColumnElement, Date, ForeignKey, Index, String, and_, or_, text
from sqlalchemy.ext.hybrid import hybrid_method
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import WGS84, Base, enum_column


class AdminLevel(enum.Enum):
    PROVINCE = "province"
    DISTRICT = "district"
    COMMUNE = "commune"


class Validity:
    """A period in force: from valid_from (inclusive) to valid_to (exclusive), open ends unbounded.

    Units and supervision groups are never rewritten: an edition closes one version and opens the next,
    so a code names different versions over time and only one of them is open-ended.
    """

    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)

    @hybrid_method
    def valid_on(self, day: date) -> bool:
        """In force on `day`. On an instance it answers in Python; on the class it is the same rule in SQL."""
        return (self.valid_from is None or self.valid_from <= day) and (self.valid_to is None or day < self.valid_to)

    @valid_on.inplace.expression
    @classmethod
    def _valid_on_expression(cls, day: date) -> ColumnElement[bool]:
        return and_(
            or_(cls.valid_from.is_(None), cls.valid_from <= day),
            or_(cls.valid_to.is_(None), cls.valid_to > day),
        )


def open_code_index(table: str) -> Index:
    """At most one open-ended version per code: closed versions keep the code as history."""
    return Index(
        f"uq_{table}_open_code",
        "code",
        unique=True,
        sqlite_where=text("valid_to IS NULL"),
        postgresql_where=text("valid_to IS NULL"),
    )


class AdminUnit(Validity, Base):
    __tablename__ = "admin_units"
    __table_args__ = (open_code_index("admin_units"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), index=True)
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[AdminLevel] = mapped_column(enum_column(AdminLevel), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("admin_units.id"), index=True)
    boundary = mapped_column(Geometry("MULTIPOLYGON", srid=WGS84, spatial_index=True), nullable=True)
    #: The commune police's duty phone, shown to owners on their link pages.
    police_phone: Mapped[str | None] = mapped_column(String(32))

    parent: Mapped[AdminUnit | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[AdminUnit]] = relationship(back_populates="parent")

    def __repr__(self) -> str:
        return f"<AdminUnit {self.level.value} {self.code} {self.name!r}>"
