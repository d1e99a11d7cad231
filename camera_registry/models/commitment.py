"""Sharing commitments ("cam kết chia sẻ dữ liệu"): an owner's signed promise.

A commitment covers all the owner's recorders or a listed set. Renewal signs
a new row; revocation stamps `revoked_at`. Rows are never overwritten, so the
history of what was promised when stays readable.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, Column, ForeignKey, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, UtcDateTime, enum_column
from .owner import Owner
from .recorder import Recorder


class CommitmentChannel(enum.Enum):
    PAPER = "paper"
    WEB = "web"


commitment_recorders = Table(
    "commitment_recorders",
    Base.metadata,
    Column("commitment_id", ForeignKey("sharing_commitments.id", ondelete="CASCADE"), primary_key=True),
    Column("recorder_id", ForeignKey("recorders.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class CommitmentText(Base):
    """The full text an owner signed, one row per version and language, stored once and never changed, so a
    signature can always be shown beside the exact words it agreed to (the files in commitment_texts/ may
    change; a stored text never does)."""

    __tablename__ = "commitment_texts"
    __table_args__ = (UniqueConstraint("version", "language"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[str] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(8))
    body: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))


class SharingCommitment(Base):
    __tablename__ = "sharing_commitments"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("owners.id"), index=True)
    all_recorders: Mapped[bool] = mapped_column(Boolean, default=True)
    signed_at: Mapped[datetime] = mapped_column(UtcDateTime())
    valid_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    channel: Mapped[CommitmentChannel] = mapped_column(enum_column(CommitmentChannel))
    text_version: Mapped[str] = mapped_column(String(32))
    #: The exact text signed (None for paper commitments imported from a register, and rows before 0013).
    text_id: Mapped[int | None] = mapped_column(ForeignKey("commitment_texts.id"), index=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    #: When the owner was invited to renew (30 days before valid_until); the scheduler invites once.
    renewal_invited_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    owner: Mapped[Owner] = relationship(back_populates="commitments")
    text: Mapped[CommitmentText | None] = relationship()
    recorders: Mapped[list[Recorder]] = relationship(secondary=commitment_recorders)

    def is_active_at(self, moment: datetime) -> bool:
        """Signed, not yet expired and not revoked at `moment`."""
        return (
            self.signed_at <= moment
            and (self.valid_until is None or moment < self.valid_until)
            and (self.revoked_at is None or moment < self.revoked_at)
        )

    def covers(self, recorder: Recorder) -> bool:
        return recorder.owner_id == self.owner_id and (self.all_recorders or recorder in self.recorders)
