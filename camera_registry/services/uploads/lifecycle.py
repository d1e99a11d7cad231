"""An upload's record from creation to termination or expiry (tus creation, HEAD, termination, expiration)."""

from __future__ import annotations

import os
import secrets
from collections import Counter
from datetime import datetime
from pathlib import PurePath

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ...db import write_in_batches
from ...models import ClipUpload, UploadState
from ...models.base import utcnow
from ..access import Actor
from ..audit import record
from ..clips import ClipRefused, ClipSettings, clip_format, clip_settings, safe_name
from .intake import Intake
from .protocol import Progress, UploadProblem, parse_clock, progress_of

#: Uploads one run of the cleanup job handles per write unit.
BATCH_SIZE = 50


def create_upload(
    session: Session,
    intake: Intake,
    *,
    length: int | None,
    metadata: dict[str, str],
    settings: ClipSettings,
    now: datetime | None = None,
) -> Progress:
    """tus creation: check the declared file and the clock, make the empty partial file and the record."""
    now = now or utcnow()
    if length is None:
        raise UploadProblem("bad_request", "Upload-Length is required (deferred lengths are not supported)")
    if length > settings.max_bytes:
        raise UploadProblem("too_large", f"larger than {settings.max_bytes} bytes")
    if length <= 0:
        raise UploadProblem("empty", "the file is empty")
    refusal = intake.refusal(session)
    if refusal is not None:
        raise UploadProblem(refusal)
    filename = safe_name(metadata.get("filename", ""))
    try:
        clip = clip_format(filename, metadata.get("filetype", ""))
    except ClipRefused as refused:
        raise UploadProblem(refused.reason, refused.detail) from None
    clock = parse_clock(metadata, now)
    upload_id = secrets.token_urlsafe(24)
    partial = PurePath("incoming") / f"{upload_id}.part"
    (settings.storage_dir / "incoming").mkdir(parents=True, exist_ok=True)
    fd = os.open(settings.storage_dir / partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    upload = ClipUpload(
        id=upload_id,
        assignment_id=intake.assignment_id,
        owner_link_id=intake.owner_link_id,
        uploader_user_id=intake.actor.user_id,
        uploaded_by=intake.actor.label,
        filename=filename,
        content_type=clip.content_type,
        length=length,
        offset=0,
        upload_metadata=metadata,
        recorder_time_shown=clock.recorder_time_shown,
        clock_checked_at=clock.checked_at,
        clock_offset_seconds=clock.offset_seconds,
        partial_path=partial.as_posix(),
        state=UploadState.RECEIVING,
        created_at=now,
        updated_at=now,
        expires_at=now + settings.upload_expiry,
    )
    session.add(upload)
    record(
        session,
        intake.actor,
        "clip.upload_started",
        "assignment",
        intake.assignment_id,
        details={
            "upload_id": upload_id,
            "link_id": intake.owner_link_id,
            "name": filename,
            "length": length,
            "clock_offset_seconds": clock.offset_seconds,
        },
    )
    session.flush()
    return progress_of(upload)


def upload_of(session: Session, intake: Intake, upload_id: str, now: datetime) -> ClipUpload:
    upload = session.get(ClipUpload, upload_id)
    if upload is None or upload.assignment_id != intake.assignment_id:
        raise UploadProblem("not_found", "no such upload")
    if upload.state in (UploadState.TERMINATED, UploadState.EXPIRED, UploadState.REFUSED):
        raise UploadProblem("gone", f"the upload was {upload.state.value}")
    if upload.state == UploadState.RECEIVING and upload.expires_at <= now:
        raise UploadProblem("gone", "the upload expired")
    return upload


def upload_progress(session: Session, intake: Intake, upload_id: str, now: datetime | None = None) -> Progress:
    """tus HEAD: how many bytes are kept."""
    return progress_of(upload_of(session, intake, upload_id, now or utcnow()))


def terminate_upload(
    session: Session, intake: Intake, upload_id: str, *, settings: ClipSettings, now: datetime | None = None
) -> None:
    """tus termination: the uploader gives up; the partial file goes, the record says so."""
    now = now or utcnow()
    upload = upload_of(session, intake, upload_id, now)
    if upload.state == UploadState.COMPLETE:
        raise UploadProblem("complete", "a finished upload is the evidence now; it cannot be terminated")
    (settings.storage_dir / upload.partial_path).unlink(missing_ok=True)
    upload.state, upload.updated_at = UploadState.TERMINATED, now
    record(
        session,
        intake.actor,
        "clip.upload_terminated",
        "assignment",
        upload.assignment_id,
        details={"upload_id": upload.id, "offset": upload.offset, "length": upload.length},
    )


def refuse_upload(
    writer: Session, intake: Intake, upload: ClipUpload, reason: str, now: datetime, detail: str | None = None
) -> None:
    """The upload is refused for good (its content, its size, or the intake no longer takes it); the record
    keeps the reason and the audit trail says so. The caller removes the file."""
    upload.state, upload.refusal, upload.updated_at = UploadState.REFUSED, reason, now
    record(
        writer,
        intake.actor,
        "clip.upload_refused",
        "assignment",
        upload.assignment_id,
        note=detail,
        details={"upload_id": upload.id, "link_id": upload.owner_link_id, "reason": reason, "name": upload.filename},
    )


def clean_abandoned_uploads(session_factory: sessionmaker, settings: object, now: datetime) -> Counter:
    """Scheduled: uploads with no new byte for CLIP_UPLOAD_EXPIRY_HOURS lose their partial file (tus
    expiration); the record stays, as `expired`, and the audit trail says so."""
    clips = clip_settings(settings)

    def batch(session: Session) -> int:
        due = session.scalars(
            select(ClipUpload)
            .where(ClipUpload.state == UploadState.RECEIVING, ClipUpload.expires_at <= now)
            .order_by(ClipUpload.id)
            .limit(BATCH_SIZE)
        ).all()
        for upload in due:
            (clips.storage_dir / upload.partial_path).unlink(missing_ok=True)
            upload.state, upload.updated_at = UploadState.EXPIRED, now
            record(
                session,
                Actor(label="system"),
                "clip.upload_expired",
                "assignment",
                upload.assignment_id,
                details={"upload_id": upload.id, "offset": upload.offset, "length": upload.length},
            )
        return len(due)

    expired = write_in_batches(session_factory, batch, BATCH_SIZE)
    return Counter({"uploads_expired": expired} if expired else {})
