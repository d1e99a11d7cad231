"""Supervision groups: the communes a member of staff oversees, now that the 2025 reform removed districts.

An administrator defines a group as a named set of communes of one province. Like admin units, a group is
versioned: changing its communes closes the current version and opens the next under the same code, so the
figures of a past period can still be read with the group as it was then.
"""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .admin_unit import AdminUnit, Validity, open_code_index
from .base import Base

supervision_group_communes = Table(
    "supervision_group_communes",
    Base.metadata,
    Column("group_id", ForeignKey("supervision_groups.id", ondelete="CASCADE"), primary_key=True),
    Column("commune_id", ForeignKey("admin_units.id"), primary_key=True, index=True),
)


class SupervisionGroup(Validity, Base):
    __tablename__ = "supervision_groups"
    __table_args__ = (open_code_index("supervision_groups"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), index=True)
    name: Mapped[str] = mapped_column(String(200))
    province_id: Mapped[int] = mapped_column(ForeignKey("admin_units.id"), index=True)

    province: Mapped[AdminUnit] = relationship()
    communes: Mapped[list[AdminUnit]] = relationship(secondary=supervision_group_communes, order_by=AdminUnit.name)

    def __repr__(self) -> str:
        return f"<SupervisionGroup {self.code} {self.name!r}>"
