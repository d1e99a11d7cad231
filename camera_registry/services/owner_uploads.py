"""The clips an owner uploads through a live assignment link, after consenting to hand over by upload.

A clip streams for as long as the owner's network takes, so no transaction is open meanwhile: the link is
checked before the upload and again when the clip is recorded, each record in a short write unit of its own.
The first clip recorded counts as the footage received and uses the link.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path, PurePath

from sqlalchemy.orm import Session

from ..models import FootageClip, OwnerLink
from ..models.base import utcnow
from .access import owner_actor
from .audit import record
from .clips import ClipRefused, ClipUpload, StoredClip, clip_format, store_clip
from .owner_links import mark_used, resolve_link
from .owner_pages import DEAD_STATES, UPLOAD, OwnerPage, PageState, Refusal, owner_page
from .requests import apply_assignment_action
from .uploads import Clock, Intake, UploadProblem, WriteUnit, parse_clock


def receive_clip(
    session: Session,
    raw_token: str,
    upload: ClipUpload,
    *,
    storage_dir: Path,
    max_bytes: int,
    write: WriteUnit | None = None,
    language: str = "vi",
    now: datetime | None = None,
) -> OwnerPage:
    """Store a clip the owner uploads after consenting to hand over by upload; the footage then counts as
    received (evidence "clip:<id>" with its SHA-256). Started, finished and refused uploads are audited.

    `session` only reads, and each record is written by `write` (a short write unit of its own; without
    one, in `session`).
    """
    now = now or utcnow()
    write = write or (lambda work: work(session))
    page = owner_page(session, resolve_link(session, raw_token, now), language, now)
    refusal = _upload_refusal(page)
    if refusal is not None:
        return replace(page, refusal=refusal)
    link_id, assignment_id, actor = page.link.id, page.link.assignment_id, owner_actor(page.link.owner_id)
    write(
        lambda writer: record(
            writer, actor, "clip.upload_started", "assignment", assignment_id, details={"link_id": link_id}
        )
    )
    filename = ""
    try:
        filename, declared_type = upload.open()
        filename = PurePath(filename.replace("\\", "/")).name[:255]
        clock = _form_clock(getattr(upload, "fields", {}), now)
        stored = store_clip(
            upload.chunks(),
            storage_dir=storage_dir,
            subdirectory=str(assignment_id),
            filename=filename,
            clip=clip_format(filename, declared_type),
            max_bytes=max_bytes,
        )
    except ClipRefused as refused:
        reason, detail = refused.reason, refused.detail
        write(
            lambda writer: record(
                writer,
                actor,
                "clip.upload_refused",
                "assignment",
                assignment_id,
                note=detail,
                details={"link_id": link_id, "reason": reason, "name": filename},
            )
        )
        return replace(page, refusal=reason, refusal_detail=detail)
    try:
        refusal = write(
            lambda writer: _record_clip(writer, raw_token, stored, filename, language, utcnow(), now, clock)
        )
    except BaseException:
        (storage_dir / stored.relative_path).unlink(missing_ok=True)  # no file without its record
        raise
    if refusal is not None:
        (storage_dir / stored.relative_path).unlink(missing_ok=True)
    page = owner_page(session, resolve_link(session, raw_token, now), language, now)
    return replace(page, refusal=refusal) if refusal is not None else page


def upload_intake(session: Session, raw_token: str, *, now: datetime | None = None) -> Intake:
    """The resumable (tus) intake of a live link whose owner consented to upload: checked now, and again when
    the clip is recorded; the first clip then counts as the footage received and uses the link, as above."""
    now = now or utcnow()
    page = owner_page(session, resolve_link(session, raw_token, now), "vi", now)
    refusal = _upload_refusal(page)
    if refusal is not None:
        raise UploadProblem(refusal)
    # Plain values only: the closures run in later write units, after this read has ended.
    link_id, owner_id, assignment_id = page.link.id, page.link.owner_id, page.link.assignment_id

    def still_open(writer: Session) -> str | None:
        return _upload_refusal(owner_page(writer, resolve_link(writer, raw_token, now), "vi", now))

    def received(writer: Session, clip: FootageClip) -> None:
        _footage_received(writer, writer.get(OwnerLink, link_id), clip, now)

    return Intake(owner_actor(owner_id), assignment_id, owner_link_id=link_id, refusal=still_open, on_complete=received)


def _upload_refusal(page: OwnerPage) -> str | None:
    if page.state == PageState.OPEN and UPLOAD in page.actions:
        return None
    return Refusal.LINK_DEAD if page.state in DEAD_STATES | {PageState.UNKNOWN} else Refusal.NOT_OFFERED


def _form_clock(fields: dict[str, str], now: datetime) -> Clock | None:
    """The clock check of the plain upload form, when it was filled in (it is optional there)."""
    if not (fields.get("recorder_time") or fields.get("clock_correct")):
        return None
    try:
        return parse_clock({key: value for key, value in fields.items() if value}, now)
    except UploadProblem as problem:
        raise ClipRefused("clock", problem.detail) from None


def _record_clip(
    session: Session,
    raw_token: str,
    stored: StoredClip,
    filename: str,
    language: str,
    now: datetime,
    started_at: datetime | None = None,
    clock: Clock | None = None,
) -> str | None:
    """Record a stored clip as the footage received, if the link still takes it (else the refusal)."""
    page = owner_page(session, resolve_link(session, raw_token, now), language, now)
    refusal = _upload_refusal(page)
    if refusal is not None:
        return refusal
    link, assignment = page.link, page.link.assignment
    actor = owner_actor(link.owner_id)
    clip = FootageClip(
        assignment=assignment,
        stored_path=stored.relative_path,
        original_name=filename,
        content_type=stored.content_type,
        size_bytes=stored.size_bytes,
        sha256=stored.sha256,
        uploaded_at=now,
        upload_started_at=started_at,
        uploaded_by=actor.label,
        recorder_time_shown=clock.recorder_time_shown if clock else None,
        clock_checked_at=clock.checked_at if clock else None,
        clock_offset_seconds=clock.offset_seconds if clock else None,
    )
    session.add(clip)
    session.flush()
    record(
        session,
        actor,
        "clip.upload_finished",
        "footage_clip",
        clip.id,
        details={
            "link_id": link.id,
            "assignment_id": assignment.id,
            "name": filename,
            "size_bytes": stored.size_bytes,
            "sha256": stored.sha256,
        },
    )
    _footage_received(session, link, clip, now)
    return None


def _footage_received(session: Session, link: OwnerLink, clip: FootageClip, now: datetime) -> None:
    """The clip is the footage of the link's assignment, and the link has served."""
    apply_assignment_action(
        session,
        owner_actor(link.owner_id),
        link.assignment,
        "receive_footage",
        evidence_ref=f"clip:{clip.id}",
        clip_id=clip.id,
    )
    mark_used(link, now)
