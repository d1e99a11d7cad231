"""A complete upload becomes a stored clip: moved into the clip store and recorded as a FootageClip in one write unit,
with the uploader's own checks and follow-up."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from ...models import ClipUpload, FootageClip, UploadState
from ..audit import record
from ..clips import ClipSettings, file_sha256, final_path
from .intake import Intake
from .lifecycle import refuse_upload
from .protocol import Progress, UploadProblem, WriteUnit, progress_of


def complete_upload(
    write: WriteUnit,
    intake: Intake,
    upload_id: str,
    filename: str,
    partial: Path,
    sha256: str | None,
    settings: ClipSettings,
    now: datetime,
) -> Progress:
    """Every byte is on disk: hash it (unless hashed as it streamed), move it into place, record the clip."""
    sha256 = sha256 or file_sha256(partial)
    relative = final_path(str(intake.assignment_id), filename)
    (settings.storage_dir / relative).parent.mkdir(parents=True, exist_ok=True)
    os.replace(partial, settings.storage_dir / relative)

    def record_clip(writer: Session) -> tuple[str | None, Progress]:
        upload = writer.get(ClipUpload, upload_id)
        refusal = intake.refusal(writer)
        if refusal is not None:
            refuse_upload(writer, intake, upload, refusal, now)
            return refusal, progress_of(upload)
        clip = FootageClip(
            assignment_id=upload.assignment_id,
            stored_path=relative.as_posix(),
            original_name=upload.filename,
            content_type=upload.content_type,
            size_bytes=upload.length,
            sha256=sha256,
            uploaded_at=now,
            upload_started_at=upload.created_at,
            uploaded_by=upload.uploaded_by,
            uploader_user_id=upload.uploader_user_id,
            recorder_time_shown=upload.recorder_time_shown,
            clock_checked_at=upload.clock_checked_at,
            clock_offset_seconds=upload.clock_offset_seconds,
        )
        writer.add(clip)
        writer.flush()
        upload.state, upload.clip_id, upload.updated_at = UploadState.COMPLETE, clip.id, now
        record(
            writer,
            intake.actor,
            "clip.upload_finished",
            "footage_clip",
            clip.id,
            details={
                "upload_id": upload_id,
                "link_id": upload.owner_link_id,
                "assignment_id": upload.assignment_id,
                "name": upload.filename,
                "size_bytes": upload.length,
                "sha256": sha256,
                "clock_offset_seconds": upload.clock_offset_seconds,
            },
        )
        intake.on_complete(writer, clip)
        return None, progress_of(upload)

    try:
        refusal, progress = write(record_clip)
    except BaseException:
        (settings.storage_dir / relative).unlink(missing_ok=True)  # no file without its record
        raise
    if refusal is not None:
        (settings.storage_dir / relative).unlink(missing_ok=True)
        raise UploadProblem(refusal)
    return progress
