"""Resumable clip uploads (tus 1.0: core, creation, termination, expiration), for owners and for officers.

A clip of gigabytes comes from a phone on a mobile network: the connection
drops, the page is reloaded, the upload goes on from the last byte the
server kept. The HTTP layer (web/tus.py) speaks the protocol; this module
keeps the state, with no Flask in it:

- an upload is a `ClipUpload` row (random id, assignment, uploader, length,
  offset, expiry) and a partial file under `<store>/incoming/`;
- bytes stream from the request body to the partial file in pieces, never
  held whole; every CHECKPOINT_BYTES, and when the body ends or breaks, the
  file is fsynced and only then the new offset is written, in a short write
  unit of its own. No transaction is open while bytes arrive (SQLite has one
  write lock: docs/concurrency.md). A crash between the two leaves bytes past
  the recorded offset; the next PATCH cuts them off before appending;
- one PATCH at a time per upload (an exclusive lock on the partial file): a
  resumed request that meets the old one still streaming waits briefly, then
  answers 423 (the client retries);
- the first bytes are checked against the declared container as soon as they
  arrive; the length is checked against CLIP_MAX_BYTES at creation, and no
  byte past the declared length is taken;
- the SHA-256: hashlib's state cannot be kept between requests or workers, so
  an upload that arrives in one PATCH is hashed as it streams, and one that
  was resumed is hashed by reading the complete file back from disk, in
  pieces, before it is recorded. Either way the hash is of the bytes on disk.

Completing an upload moves the file into place and records a `FootageClip`
(uploader, times, the recorder's clock offset) in one write unit, with the
uploader's own checks and follow-up (`Intake.on_complete`: an owner's link
must still take the upload, and the footage then counts as received).
"""

from __future__ import annotations

import base64
import binascii
import errno
import fcntl
import hashlib
import os
import secrets
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path, PurePath

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ..db import write_in_batches
from ..models import AssignmentStatus, ClipUpload, FootageClip, Role, UploadState
from ..models.base import utcnow
from ..timezones import LOCAL_ZONE
from .access import Actor
from .audit import record
from .clips import (
    HEAD_BYTES,
    ClipFormat,
    ClipRefused,
    ClipSettings,
    check_head,
    clip_format,
    clip_settings,
    file_sha256,
    final_path,
    safe_name,
)
from .errors import NotFound, PermissionDenied

#: fsync and record the offset after this many new bytes (and when the body ends or breaks).
CHECKPOINT_BYTES = 4 * 1024 * 1024
WRITE_BYTES = 1024 * 1024
#: How long a PATCH waits for another one on the same upload to let go before answering 423.
LOCK_WAIT_SECONDS = 5.0
#: The most a recorder's clock may be off and still be taken as typed (a typo of a year is refused).
MAX_CLOCK_OFFSET = timedelta(days=400)
#: Uploads one run of the cleanup job handles per write unit.
BATCH_SIZE = 50
#: Officers may add their copies while the footage is expected or after it arrived.
POLICE_UPLOAD_STATES = (AssignmentStatus.CONSENTED, AssignmentStatus.FOOTAGE_RECEIVED)

WriteUnit = Callable[[Callable[[Session], object]], object]


class UploadProblem(Exception):
    """A tus request that cannot be honoured; `reason` is one code the HTTP layer maps to a status."""

    def __init__(self, reason: str, detail: str = "", *, offset: int | None = None):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
        self.offset = offset


class UploadInterrupted(Exception):
    """The client stopped sending mid-body (connection dropped, upload paused); what arrived is kept."""


@dataclass(frozen=True)
class Intake:
    """Who uploads to which assignment, with the checks and follow-up their kind of uploader needs.

    `refusal(session)` says why the upload is not (or no longer) taken, or None; it runs when an upload is
    created and again in the write unit that records the clip. `on_complete(session, clip)` runs in that
    same unit (an owner's footage counts as received and the link is used).
    """

    actor: Actor
    assignment_id: int
    owner_link_id: int | None = None
    refusal: Callable[[Session], str | None] = lambda session: None
    on_complete: Callable[[Session, FootageClip], None] = lambda session, clip: None


@dataclass(frozen=True)
class Clock:
    """The recorder's displayed time against the real time; both None with offset 0: "clock correct"."""

    offset_seconds: float
    recorder_time_shown: datetime | None
    checked_at: datetime


@dataclass
class Progress:
    """An upload as the protocol reports it."""

    id: str
    offset: int
    length: int
    expires_at: datetime
    state: UploadState
    metadata: dict = field(default_factory=dict)
    clip_id: int | None = None


def _progress(upload: ClipUpload) -> Progress:
    return Progress(
        upload.id,
        upload.offset,
        upload.length,
        upload.expires_at,
        upload.state,
        dict(upload.upload_metadata or {}),
        upload.clip_id,
    )


# --------------------------------------------------------------------------- metadata


def parse_metadata(header: str) -> dict[str, str]:
    """tus Upload-Metadata: comma-separated `key base64(value)` pairs (a key alone has an empty value)."""
    metadata: dict[str, str] = {}
    for pair in filter(None, (part.strip() for part in (header or "").split(","))):
        key, _, encoded = pair.partition(" ")
        try:
            metadata[key] = base64.b64decode(encoded.strip(), validate=True).decode("utf-8") if encoded else ""
        except (binascii.Error, UnicodeDecodeError):
            raise UploadProblem("bad_request", f"Upload-Metadata {key!r} is not base64 of UTF-8 text") from None
    return metadata


def encode_metadata(metadata: dict[str, str]) -> str:
    return ",".join(
        f"{key} {base64.b64encode(value.encode()).decode()}" if value else key for key, value in metadata.items()
    )


def parse_clock(metadata: dict[str, str], now: datetime) -> Clock:
    """The clock check an uploader sends: `clock_correct` 1, or `recorder_time` (what the recorder shows, local
    time, YYYY-MM-DDTHH:MM[:SS]) with `clock_checked_at` (the uploader's own time then, ISO 8601 with offset;
    default: now)."""
    checked_at = now
    if metadata.get("clock_checked_at"):
        try:
            checked_at = datetime.fromisoformat(metadata["clock_checked_at"].replace("Z", "+00:00"))
        except ValueError:
            raise UploadProblem("clock", "clock_checked_at must be an ISO 8601 time with its offset") from None
        if checked_at.tzinfo is None:
            raise UploadProblem("clock", "clock_checked_at must carry its offset")
    if metadata.get("clock_correct") in ("1", "true"):
        return Clock(0.0, None, checked_at)
    shown = metadata.get("recorder_time", "").strip()
    if not shown:
        raise UploadProblem(
            "clock", "say what time the recorder shows (recorder_time), or that its clock is correct (clock_correct)"
        )
    try:
        recorder_time = datetime.fromisoformat(shown)
    except ValueError:
        raise UploadProblem("clock", "recorder_time must be a date and time, YYYY-MM-DDTHH:MM") from None
    if recorder_time.tzinfo is None:
        recorder_time = recorder_time.replace(tzinfo=LOCAL_ZONE)  # recorders show local (Vietnam) time
    offset = recorder_time - checked_at
    if abs(offset) > MAX_CLOCK_OFFSET:
        raise UploadProblem("clock", "the recorder's time is more than 400 days off: check what you typed")
    return Clock(offset.total_seconds(), recorder_time, checked_at)


# --------------------------------------------------------------------------- police intake


def police_intake(session: Session, actor: Actor, assignment_id: int, *, request_id: int | None = None) -> Intake:
    """An officer's own copy of the footage: police of the request's commune (or an admin) on an assignment
    whose owner agreed to hand it over."""
    from ..models import Assignment

    assignment = session.get(Assignment, assignment_id)
    if (
        assignment is None
        or (request_id is not None and assignment.request_id != request_id)
        or not actor.can_read(assignment.request.commune_id)
    ):
        raise NotFound(f"assignment {assignment_id} not found")
    if not (actor.is_admin or actor.role == Role.COMMUNE_POLICE) or not actor.can_write(assignment.request.commune_id):
        raise PermissionDenied(f"{actor.label} may not add footage to assignment {assignment_id}")

    def refusal(writer: Session) -> str | None:
        current = writer.get(Assignment, assignment_id)
        return None if current.status in POLICE_UPLOAD_STATES else "not_offered"

    return Intake(actor, assignment_id, refusal=refusal)


# --------------------------------------------------------------------------- the protocol's steps


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
    return _progress(upload)


def _upload_of(session: Session, intake: Intake, upload_id: str, now: datetime) -> ClipUpload:
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
    return _progress(_upload_of(session, intake, upload_id, now or utcnow()))


def terminate_upload(
    session: Session, intake: Intake, upload_id: str, *, settings: ClipSettings, now: datetime | None = None
) -> None:
    """tus termination: the uploader gives up; the partial file goes, the record says so."""
    now = now or utcnow()
    upload = _upload_of(session, intake, upload_id, now)
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
    upload = _upload_of(session, intake, upload_id, now())
    if upload.state == UploadState.COMPLETE:
        if offset == upload.length:
            return _progress(upload)
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
    return _complete(write, intake, upload_id, filename, partial, sha256, settings, now())


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
    return write(lambda writer: _progress(writer.get(ClipUpload, upload_id)))


def _refuse(
    write: WriteUnit, intake: Intake, upload_id: str, partial: Path, problem: UploadProblem, now: datetime
) -> None:
    partial.unlink(missing_ok=True)

    def refuse(writer: Session) -> None:
        upload = writer.get(ClipUpload, upload_id)
        upload.state, upload.refusal, upload.updated_at = UploadState.REFUSED, problem.reason, now
        record(
            writer,
            intake.actor,
            "clip.upload_refused",
            "assignment",
            upload.assignment_id,
            note=problem.detail,
            details={
                "upload_id": upload_id,
                "link_id": upload.owner_link_id,
                "reason": problem.reason,
                "name": upload.filename,
            },
        )

    write(refuse)


def _complete(
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
            upload.state, upload.refusal, upload.updated_at = UploadState.REFUSED, refusal, now
            record(
                writer,
                intake.actor,
                "clip.upload_refused",
                "assignment",
                upload.assignment_id,
                details={"upload_id": upload_id, "reason": refusal, "name": upload.filename},
            )
            return refusal, _progress(upload)
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
        return None, _progress(upload)

    try:
        refusal, progress = write(record_clip)
    except BaseException:
        (settings.storage_dir / relative).unlink(missing_ok=True)  # no file without its record
        raise
    if refusal is not None:
        (settings.storage_dir / relative).unlink(missing_ok=True)
        raise UploadProblem(refusal)
    return progress


# --------------------------------------------------------------------------- the cleanup job


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
