"""Camera owners: who holds the footage."""

from __future__ import annotations

import enum

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .admin_unit import AdminUnit
from .base import Base, enum_column


class OwnerKind(enum.Enum):
    HOUSEHOLD = "household"
    AGENCY = "agency"
    BUSINESS = "business"


class Owner(Base):
    """Contact fields are personal data (Decree 13/2023): read only by roles that need them, and audited."""

    __tablename__ = "owners"

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[OwnerKind] = mapped_column(enum_column(OwnerKind), index=True)
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(254))
    address: Mapped[str | None] = mapped_column(String(500))
    # The commune whose register lists the owner: it decides who may see and edit them.
    commune_id: Mapped[int | None] = mapped_column(ForeignKey("admin_units.id"), index=True)
    #: Bumped on every change; a write names the version it read and a stale one is refused (409).
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    commune: Mapped[AdminUnit | None] = relationship()
    recorders: Mapped[list[Recorder]] = relationship(back_populates="owner")  # noqa: F821
    commitments: Mapped[list[SharingCommitment]] = relationship(back_populates="owner")  # noqa: F821

    __mapper_args__ = {"version_id_col": version}  # every ORM UPDATE bumps it and is refused if it is stale
