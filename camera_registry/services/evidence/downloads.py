"""Who may take footage out of the service, and the audited download of one clip."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from ...db import after_read
from ...models import FootageClip, FootageRequest, Role
from ..access import Actor
from ..audit import record
from ..errors import NotFound, PermissionDenied
from ..messages import refusal


def may_take_footage(actor: Actor, request: FootageRequest) -> None:
    """The officers who may see the request (its commune's police) and administrators; staff read figures."""
    if not actor.can_read(request.commune_id):
        raise NotFound.of("footage request", request.id)
    if not (actor.is_admin or actor.role == Role.COMMUNE_POLICE):
        raise PermissionDenied(refusal("%(actor)s may not take footage out of the service", actor=actor.name))


@dataclass(frozen=True)
class Download:
    clip: FootageClip
    path: Path


def clip_download(
    session: Session, actor: Actor, request_id: int, clip_id: int, *, storage_dir: Path, byte_range: str | None = None
) -> Download:
    """A clip for an officer to download; the download is audited (who, when, which clip, its hash, the range)."""
    clip = session.get(FootageClip, clip_id)
    if clip is None or clip.assignment.request_id != request_id:
        raise NotFound.of("clip", clip_id)
    may_take_footage(actor, clip.assignment.request)
    if clip.deleted_at is not None:
        raise NotFound(
            refusal("clip %(id)s was deleted under the retention rule; its record and hash stay", id=clip_id)
        )
    path = storage_dir / clip.stored_path
    if not path.is_file():
        raise NotFound(refusal("clip %(id)s is missing from the clip store", id=clip_id))
    details = {
        "request_id": request_id,
        "assignment_id": clip.assignment_id,
        "sha256": clip.sha256,
        "name": clip.original_name,
        "size_bytes": clip.size_bytes,
        "range": byte_range,
    }
    after_read(
        session, lambda writer: record(writer, actor, "clip.downloaded", "footage_clip", clip_id, details=details)
    )
    return Download(clip, path)
