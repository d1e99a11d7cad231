"""Staff accounts and their API tokens. Owners never get accounts."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .admin_unit import AdminUnit
from .base import Base, UtcDateTime, enum_column, utcnow
from .supervision_group import SupervisionGroup


class Role(enum.Enum):
    ADMIN = "admin"
    PROVINCE_STAFF = "province_staff"
    DISTRICT_STAFF = "district_staff"
    COMMUNE_POLICE = "commune_police"


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(enum_column(Role))
    admin_unit_id: Mapped[int | None] = mapped_column(ForeignKey("admin_units.id"), index=True)
    #: Staff who oversee several communes are bound to a supervision group instead of a unit.
    supervision_group_id: Mapped[int | None] = mapped_column(ForeignKey("supervision_groups.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    #: Carried in the login cookie; logout, deactivation and a password change bump it, ending every session.
    session_generation: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    #: The language the user chose for the pages ("vi" or "en"); None until they choose (then Vietnamese).
    language: Mapped[str | None] = mapped_column(String(8))

    admin_unit: Mapped[AdminUnit | None] = relationship()
    supervision_group: Mapped[SupervisionGroup | None] = relationship()
    tokens: Mapped[list[ApiToken]] = relationship(back_populates="user")


class ApiToken(Base):
    """A Bearer token; only the SHA-256 of the secret is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    user: Mapped[User] = relationship(back_populates="tokens")
