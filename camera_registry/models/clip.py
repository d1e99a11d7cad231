"""Footage clips handed to the police, and the resumable (tus) uploads that bring them in.

A clip is the original export, kept unmodified outside the web root; its
SHA-256 is taken at acquisition and the recorder's clock offset is noted
beside it. Retention deletes the file after the request ends, never the row:
the record of what was received, and its hash, stay for the evidence trail.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, UtcDateTime, enum_column, utcnow
from .owner_link import OwnerLink
from .request import Assignment
from .user import User


class FootageClip(Base):
    """A clip uploaded for an assignment (by its owner through the link, or by an officer who copied it)."""

    __tablename__ = "footage_clips"

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"), index=True)
    stored_path: Mapped[str] = mapped_column(String(500))
    original_name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    #: When its first byte was taken (the upload's creation); null for clips from before resumable uploads.
    upload_started_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    #: Who uploaded it, as the audit trail names them (owner:<id>, commune_police:<username>).
    uploaded_by: Mapped[str | None] = mapped_column(String(200))
    uploader_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: The recorder's clock against the real time, as the uploader read it: the time the recorder showed at
    #: `clock_checked_at` (the uploader's clock). Offset = recorder - real, in seconds; 0 when "clock correct".
    recorder_time_shown: Mapped[datetime | None] = mapped_column(UtcDateTime())
    clock_checked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    clock_offset_seconds: Mapped[float | None] = mapped_column(Float)
    #: Set when retention removed the file; the row, its hash and the audit trail stay.
    deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    assignment: Mapped[Assignment] = relationship()
    uploader: Mapped[User | None] = relationship()

    @property
    def clock_recorded(self) -> bool:
        return self.clock_offset_seconds is not None


class UploadState(enum.Enum):
    RECEIVING = "receiving"  # created, bytes may follow
    COMPLETE = "complete"  # every byte arrived and the clip is recorded
    REFUSED = "refused"  # its content is not footage, or it outgrew the limit: the partial file is gone
    TERMINATED = "terminated"  # the uploader cancelled it (tus termination)
    EXPIRED = "expired"  # abandoned: the cleanup job removed its partial file


class ClipUpload(Base):
    """One tus upload in progress: how many bytes of how many are on disk, for which assignment, by whom.

    The id is random (192 bits) and is the upload's URL; it is only honoured
    together with the owner's link or the officer's reach on the assignment.
    `offset` is written only after the bytes it counts are fsynced to disk.
    """

    __tablename__ = "clip_uploads"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"), index=True)
    owner_link_id: Mapped[int | None] = mapped_column(ForeignKey("owner_links.id"))
    uploader_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    uploaded_by: Mapped[str] = mapped_column(String(200))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    length: Mapped[int] = mapped_column(BigInteger)
    offset: Mapped[int] = mapped_column(BigInteger, default=0)
    #: The tus Upload-Metadata as sent (decoded), for the record.
    upload_metadata: Mapped[dict] = mapped_column(JSON, default=dict)
    recorder_time_shown: Mapped[datetime | None] = mapped_column(UtcDateTime())
    clock_checked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    clock_offset_seconds: Mapped[float | None] = mapped_column(Float)
    partial_path: Mapped[str] = mapped_column(String(500))
    state: Mapped[UploadState] = mapped_column(enum_column(UploadState), default=UploadState.RECEIVING, index=True)
    refusal: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    clip_id: Mapped[int | None] = mapped_column(ForeignKey("footage_clips.id"))

    assignment: Mapped[Assignment] = relationship()
    owner_link: Mapped[OwnerLink | None] = relationship()
    clip: Mapped[FootageClip | None] = relationship()
