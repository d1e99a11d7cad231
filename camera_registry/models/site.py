"""Programme sites ("điểm mô hình Camera an ninh"), each run by one commune."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .admin_unit import AdminUnit
from .base import Base, point_column


class Site(Base):
    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    commune_id: Mapped[int] = mapped_column(ForeignKey("admin_units.id"), index=True)
    #: Bumped on every change; a write names the version it read and a stale one is refused (409).
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    point = mapped_column(point_column(), nullable=True)

    commune: Mapped[AdminUnit] = relationship()

    __mapper_args__ = {"version_id_col": version}  # every ORM UPDATE bumps it and is refused if it is stale
