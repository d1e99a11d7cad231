"""The clip store per commune, and the retention rule that deletes clips' files."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ...db import write_in_batches
from ...models import FINAL_REQUEST_STATES, AdminUnit, Assignment, ClipUpload, FootageClip, FootageRequest, UploadState
from ..access import SYSTEM, Actor
from ..audit import record
from ..clips import clip_settings


def storage_by_commune(session: Session, actor: Actor) -> list[dict]:
    """Bytes of clips kept (not deleted by retention) and of partial uploads, per requesting commune (admins)."""
    actor.require_admin()
    kept = _per_commune(session, FootageClip, FootageClip.size_bytes, FootageClip.deleted_at.is_(None))
    partial = _per_commune(session, ClipUpload, ClipUpload.offset, ClipUpload.state == UploadState.RECEIVING)
    units = {
        unit.id: unit for unit in session.scalars(select(AdminUnit).where(AdminUnit.id.in_(set(kept) | set(partial))))
    }
    rows = [
        {
            "commune_code": units[unit_id].code,
            "commune_name": units[unit_id].name,
            "clips": kept.get(unit_id, (0, 0))[0],
            "clip_bytes": kept.get(unit_id, (0, 0))[1],
            "partial_uploads": partial.get(unit_id, (0, 0))[0],
            "partial_bytes": partial.get(unit_id, (0, 0))[1],
        }
        for unit_id in units
    ]
    return sorted(rows, key=lambda row: (-(row["clip_bytes"] + row["partial_bytes"]), row["commune_code"]))


def _per_commune(session: Session, held: type[FootageClip | ClipUpload], size, condition) -> dict[int, tuple[int, int]]:
    """How many clips or uploads meeting `condition` each requesting commune holds, and their bytes (`size`)."""
    rows = session.execute(
        select(FootageRequest.commune_id, func.count(held.id), func.coalesce(func.sum(size), 0))
        .join(Assignment, Assignment.request_id == FootageRequest.id)
        .join(held, held.assignment_id == Assignment.id)
        .where(condition)
        .group_by(FootageRequest.commune_id)
    )
    return {commune_id: (count, int(total)) for commune_id, count, total in rows}


#: Clips one write unit of the retention job deletes.
RETENTION_BATCH = 50


def apply_retention(session_factory, settings: object, now: datetime) -> Counter:
    """Scheduled: CLIP_RETENTION_DAYS after a request resolved, was cancelled or expired, its clips' files are
    deleted. The clip rows (name, size, SHA-256, uploader, clock) and the audit trail stay, so a package made
    later still has the manifest and the custody log; `deleted_at` says when the file went."""
    clips = clip_settings(settings)
    cutoff = now - clips.retention

    def batch(session: Session) -> int:
        due = session.scalars(
            select(FootageClip)
            .join(Assignment, Assignment.id == FootageClip.assignment_id)
            .join(FootageRequest, FootageRequest.id == Assignment.request_id)
            .where(
                FootageClip.deleted_at.is_(None),
                FootageRequest.status.in_(FINAL_REQUEST_STATES),
                FootageRequest.closed_at <= cutoff,
            )
            .order_by(FootageClip.id)
            .limit(RETENTION_BATCH)
        ).all()
        for clip in due:
            (clips.storage_dir / clip.stored_path).unlink(missing_ok=True)
            clip.deleted_at = now
            record(
                session,
                SYSTEM,
                "clip.deleted",
                "footage_clip",
                clip.id,
                details={
                    "reason": "retention",
                    "retention_days": clips.retention.days,
                    "request_id": clip.assignment.request_id,
                    "sha256": clip.sha256,
                    "size_bytes": clip.size_bytes,
                },
            )
        return len(due)

    deleted = write_in_batches(session_factory, batch, RETENTION_BATCH)
    return Counter({"clips_deleted": deleted} if deleted else {})
