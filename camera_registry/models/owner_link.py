"""Single-purpose links for owners (/o/<token>); the clips they upload are in models/clip.py.

Owners have no accounts: each assignment, and each invitation to sign or
renew a commitment, gets its own link. Only the SHA-256 of the token is
stored; the link dies with its assignment, when revoked, or once used. A link
keeps the answer given through it: the commitment rows do not point back to
the link, so a used commitment link shows its answer from here.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, UtcDateTime, enum_column, utcnow
from .commitment import SharingCommitment
from .owner import Owner
from .request import Assignment


class LinkPurpose(enum.Enum):
    ASSIGNMENT = "assignment"  # answer one footage request
    COMMITMENT = "commitment"  # sign, renew or revoke the sharing commitment


class LinkAnswer(enum.Enum):
    """What an owner answered through a link: an assignment's answer, or what was done to the commitment."""

    CONSENT = "consent"
    DECLINE = "decline"
    REPORT_NO_FOOTAGE = "report_no_footage"
    SIGN = "sign"
    RENEW = "renew"
    REVOKE = "revoke"


class OwnerLink(Base):
    __tablename__ = "owner_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    purpose: Mapped[LinkPurpose] = mapped_column(enum_column(LinkPurpose))
    owner_id: Mapped[int] = mapped_column(ForeignKey("owners.id"), index=True)
    assignment_id: Mapped[int | None] = mapped_column(ForeignKey("assignments.id"), index=True)
    commitment_id: Mapped[int | None] = mapped_column(ForeignKey("sharing_commitments.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    first_viewed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    answer: Mapped[LinkAnswer | None] = mapped_column(enum_column(LinkAnswer))
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    owner: Mapped[Owner] = relationship()
    assignment: Mapped[Assignment | None] = relationship()
    commitment: Mapped[SharingCommitment | None] = relationship()
