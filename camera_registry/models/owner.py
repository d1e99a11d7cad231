"""Camera owners: who holds the footage."""

from __future__ import annotations

import enum

from sqlalchemy import Boolean, ForeignKey, Integer, String, false, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .admin_unit import AdminUnit
from .base import Base, enum_column
from .notification import Channel


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
    #: Whether the phone is on Zalo, so ZNS is tried first; cleared when Zalo says it is not (ZNS -114).
    zalo: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    #: The channel the owner asked to be reached on first (their link's page); None: ZNS, then SMS, then e-mail.
    preferred_channel: Mapped[Channel | None] = mapped_column(enum_column(Channel))
    #: The owner asked for no reminders or renewal invitations; requests still reach them.
    non_urgent_opt_out: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: The language the owner's messages are written in and their link's page opens in ("vi" or "en");
    #: None: Vietnamese.
    language: Mapped[str | None] = mapped_column(String(8))
    # The commune whose register lists the owner: it decides who may see and edit them.
    commune_id: Mapped[int | None] = mapped_column(ForeignKey("admin_units.id"), index=True)
    #: Bumped on every change; a write names the version it read and a stale one is refused (409).
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    commune: Mapped[AdminUnit | None] = relationship()
    recorders: Mapped[list[Recorder]] = relationship(back_populates="owner")  # noqa: F821
    commitments: Mapped[list[SharingCommitment]] = relationship(back_populates="owner")  # noqa: F821

    __mapper_args__ = {"version_id_col": version}  # every ORM UPDATE bumps it and is refused if it is stale
