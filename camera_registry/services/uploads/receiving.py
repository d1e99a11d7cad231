"""tus PATCH: the body streams into the partial file, each checkpoint made durable before its offset is recorded."""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from ...models import ClipUpload, UploadState
from ...models.base import utcnow
from ..clips import HEAD_BYTES, ClipFormat, ClipRefused, ClipSettings, check_head, clip_format
from .intake import Intake
from .lifecycle import refuse_upload, upload_of
from .protocol import Progress, UploadInterrupted, UploadProblem, WriteUnit, progress_of
from .stored_clip import complete_upload

#: fsync and record the offset after this many new bytes (and when the body ends or breaks).
CHECKPOINT_BYTES = 4 * 1024 * 1024
#: How long a PATCH waits for another one on the same upload to let go before answering 423.
LOCK_WAIT_SECONDS = 5.0


class _LockedFile:
    """The partial file, opened for writing under an exclusive lock (one PATCH at a time per upload)."""

    def __init__(self, path: Path, wait_seconds: float):
        self.path, self.wait_seconds = path, wait_seconds

    def __enter__(self):
        try:
            self.file = open(self.path, "r+b")
        except FileNotFoundError:
            raise UploadProblem("gone", "the partial file is gone") from None
        deadline = time.monotonic() + self.wait_seconds
        while True:
            try:
                fcntl.flock(self.file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                return self.file
            except OSError as error:
                if error.errno not in (errno.EAGAIN, errno.EACCES) or time.monotonic() >= deadline:
                    self.file.close()
                    if error.errno in (errno.EAGAIN, errno.EACCES):
                        raise UploadProblem("locked", "another request is still sending this upload") from None
                    raise
                time.sleep(0.1)

    def __exit__(self, *exc):
        fcntl.flock(self.file.fileno(), fcntl.LOCK_UN)
        self.file.close()


def receive_chunk(
    session: Session,
    intake: Intake,
    upload_id: str,
    *,
    offset: int,
    content_length: int | None,
    body: Iterable[bytes],
    settings: ClipSettings,
    write: WriteUnit,
    now: Callable[[], datetime] = utcnow,
) -> Progress:
    """tus PATCH: append the body at `offset` (which must be the kept offset: else 409).

    `session` only reads, and is rolled back before the body streams; every record is written by `write`
    (a short write unit of its own). `body` yields the bytes as they arrive and raises UploadInterrupted when
    the client goes away: what arrived until then is kept and counted, then the interruption is raised again.
    """
    upload = upload_of(session, intake, upload_id, now())
    if upload.state == UploadState.COMPLETE:
        if offset == upload.length:
            return progress_of(upload)
        raise UploadProblem("offset", "the upload is complete", offset=upload.offset)
    length, partial = upload.length, settings.storage_dir / upload.partial_path
    clip = clip_format(upload.filename, upload.content_type)
    filename = upload.filename
    if content_length is not None and offset + content_length > length:
        raise UploadProblem("too_large", f"the body would run past Upload-Length ({length} bytes)")
    session.rollback()  # no transaction stays open while the body streams in
    with _LockedFile(partial, LOCK_WAIT_SECONDS) as target:
        # The offset may have moved while this request waited for the lock: read it again under the lock.
        kept = session.get(ClipUpload, upload_id, populate_existing=True)
        kept_offset, state = kept.offset, kept.state
        session.rollback()
        if state != UploadState.RECEIVING:
            raise UploadProblem("gone", f"the upload was {state.value}")
        if offset != kept_offset:
            raise UploadProblem(
                "offset", f"Upload-Offset {offset} is not the {kept_offset} bytes kept", offset=kept_offset
            )
        target.truncate(kept_offset)  # bytes written after the last recorded offset (a crash) are not counted
        target.seek(kept_offset)
        head = None  # the first bytes, while they are not all here and checked yet
        if kept_offset < HEAD_BYTES:
            with open(partial, "rb") as start:
                head = start.read(kept_offset)
        digest = hashlib.sha256() if kept_offset == 0 else None
        position, recorded = kept_offset, kept_offset
        interrupted = False
        try:
            for chunk in body:
                if not chunk:
                    continue
                if position + len(chunk) > length:
                    raise UploadProblem("too_large", f"more bytes than Upload-Length ({length})")
                if head is not None:
                    head += chunk[: HEAD_BYTES - len(head)]
                    if len(head) == HEAD_BYTES or position + len(chunk) == length:
                        _check_content(clip, head)  # refuse early, before gigabytes of something else arrive
                        head = None
                target.write(chunk)
                if digest is not None:
                    digest.update(chunk)
                position += len(chunk)
                if position - recorded >= CHECKPOINT_BYTES:
                    recorded = _checkpoint(target, write, upload_id, position, settings, now())
        except UploadInterrupted:
            interrupted = True
        except UploadProblem as problem:
            if problem.reason in ("type", "too_large"):
                target.truncate(0)
                _refuse(write, intake, upload_id, partial, problem, now())
            raise
        if position != recorded:
            recorded = _checkpoint(target, write, upload_id, position, settings, now())
        if interrupted:
            raise UploadInterrupted(f"upload {upload_id} stopped at {position} of {length} bytes")
        if position < length:
            return _progress_after(write, upload_id)
        if head is not None:
            _check_content_or_refuse(write, intake, upload_id, clip, head, partial, now())
        sha256 = digest.hexdigest() if digest is not None else None
    return complete_upload(write, intake, upload_id, filename, partial, sha256, settings, now())


def _check_content(clip: ClipFormat, head: bytes) -> None:
    try:
        check_head(clip, head)
    except ClipRefused as refused:
        raise UploadProblem(refused.reason, refused.detail) from None


def _check_content_or_refuse(
    write: WriteUnit, intake: Intake, upload_id: str, clip: ClipFormat, head: bytes, partial: Path, now: datetime
) -> None:
    try:
        _check_content(clip, head)
    except UploadProblem as problem:
        _refuse(write, intake, upload_id, partial, problem, now)
        raise


def _checkpoint(target, write: WriteUnit, upload_id: str, position: int, settings: ClipSettings, now: datetime) -> int:
    """Make the bytes durable, then count them: an offset never names bytes a crash could lose."""
    target.flush()
    os.fsync(target.fileno())

    def record_offset(writer: Session) -> None:
        upload = writer.get(ClipUpload, upload_id)
        upload.offset, upload.updated_at, upload.expires_at = position, now, now + settings.upload_expiry

    write(record_offset)
    return position


def _progress_after(write: WriteUnit, upload_id: str) -> Progress:
    return write(lambda writer: progress_of(writer.get(ClipUpload, upload_id)))


def _refuse(
    write: WriteUnit, intake: Intake, upload_id: str, partial: Path, problem: UploadProblem, now: datetime
) -> None:
    partial.unlink(missing_ok=True)
    write(
        lambda writer: refuse_upload(
            writer, intake, writer.get(ClipUpload, upload_id), problem.reason, now, detail=problem.detail
        )
    )
