"""Building an evidence package: one ZIP per request or assignment, written to the client as it is built."""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePath

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ...db import after_read
from ...models import AdminUnit, Assignment, AssignmentLens, AuditEvent, FootageClip, FootageRequest
from ...models.base import utcnow
from ..access import Actor
from ..audit import record
from ..clips import READ_BYTES
from ..errors import NotFound
from .downloads import may_take_footage
from .signing import key_fingerprint, public_key_pem, signing_key

MANIFEST = "manifest.json"
CUSTODY_LOG = "custody_log.json"
CHECKSUMS = "SHA256SUMS"
SIGNATURE = "SHA256SUMS.sig"
PUBLIC_KEY = "signing_key.pub.pem"
CLIPS_DIR = "clips"
PACKAGE_FORMAT = "camera-registry-evidence/1"


@dataclass
class Package:
    """What a package holds, gathered in one read; `members()` then streams it from the clip store."""

    name: str
    manifest: dict
    custody_log: list[dict]
    clips: list[tuple[str, Path, str]]  # (name in the ZIP, file, sha256 at acquisition)
    key_path: Path
    written: dict[str, str] = field(default_factory=dict)


def _time(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _clip_entry(clip: FootageClip, member: str) -> dict:
    return {
        "id": clip.id,
        "file": member,
        "original_name": clip.original_name,
        "content_type": clip.content_type,
        "size_bytes": clip.size_bytes,
        "sha256": clip.sha256,
        "uploaded_by": clip.uploaded_by,
        "upload_started_at": _time(clip.upload_started_at),
        "uploaded_at": _time(clip.uploaded_at),
        "recorder_clock": {
            "offset_seconds": clip.clock_offset_seconds,
            "recorder_time_shown": _time(clip.recorder_time_shown),
            "checked_at": _time(clip.clock_checked_at),
            "meaning": "recorder time minus real time; add it to real times to find them in the footage",
        },
        "deleted_at": _time(clip.deleted_at),
    }


def _lens_entry(item: AssignmentLens) -> dict:
    from geoalchemy2.shape import to_shape

    point = to_shape(item.lens.point)
    return {
        "lens": item.lens.external_id,
        "recorder": item.recorder.external_id,
        "lon": point.x,
        "lat": point.y,
        "bearing_deg": item.lens.bearing_deg,
        "fov_deg": item.lens.fov_deg,
        "range_m": item.lens.range_m,
        "distance_m": item.distance_m,
        "preservation_deadline": _time(item.preservation_deadline),
        "partially_overwritten": item.partially_overwritten,
        # The footage asked of this lens: a timed route's window for it, else the request's.
        "window_start": _time(item.asked_window[0]),
        "window_end": _time(item.asked_window[1]),
    }


def _consent_record(session: Session, assignment: Assignment) -> dict:
    """The owner's answer, and the commitment (with its text version) that covered the recorders, if any."""
    from ...models import SharingCommitment

    answer = session.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.entity_type == "assignment",
            AuditEvent.entity_id == str(assignment.id),
            AuditEvent.to_state.in_(("consented", "declined", "no_footage")),
        )
        .order_by(AuditEvent.id)
    ).first()
    commitments = session.scalars(
        select(SharingCommitment)
        .where(SharingCommitment.owner_id == assignment.owner_id)
        .order_by(SharingCommitment.signed_at)
    ).all()
    at = assignment.answered_at or assignment.request.created_at
    covering = [
        c
        for c in commitments
        if c.signed_at <= at
        and (c.revoked_at is None or c.revoked_at > at)
        and (c.valid_until is None or c.valid_until > at)
    ]
    return {
        "status": assignment.status.value,
        "handover": assignment.handover.value if assignment.handover else None,
        "answered_at": _time(assignment.answered_at),
        "answer_note": assignment.answer_note,
        "answered_by": answer.actor_label if answer else None,
        "covered_by_commitment": assignment.covered_by_commitment,
        "commitments": [
            {
                "id": c.id,
                "signed_at": _time(c.signed_at),
                "valid_until": _time(c.valid_until),
                "channel": c.channel.value,
                "text_version": c.text_version,
            }
            for c in covering
        ],
        "evidence_ref": assignment.evidence_ref,
        "evidence_sha256": assignment.evidence_sha256,
    }


def _custody_log(
    session: Session, request: FootageRequest, assignments: list[Assignment], clips: list[FootageClip]
) -> list[dict]:
    assignment_ids = [str(a.id) for a in assignments]
    clip_ids = [str(c.id) for c in clips]
    events = session.scalars(
        select(AuditEvent)
        .where(
            or_(
                (AuditEvent.entity_type == "request") & (AuditEvent.entity_id == str(request.id)),
                (AuditEvent.entity_type == "assignment") & AuditEvent.entity_id.in_(assignment_ids or [""]),
                (AuditEvent.entity_type == "footage_clip") & AuditEvent.entity_id.in_(clip_ids or [""]),
            )
        )
        .order_by(AuditEvent.id)
    ).all()
    return [
        {
            "id": e.id,
            "at": _time(e.occurred_at),
            "actor": e.actor_label,
            "action": e.action,
            "entity": f"{e.entity_type}:{e.entity_id}",
            "from": e.from_state,
            "to": e.to_state,
            "note": e.note,
            "details": e.details,
        }
        for e in events
    ]


def build_package(
    session: Session,
    actor: Actor,
    request_id: int,
    *,
    assignment_id: int | None = None,
    storage_dir: Path,
    key_path: Path,
    now: datetime | None = None,
) -> Package:
    """Gather a request's (or one assignment's) evidence in one read; the package's creation is audited."""
    now = now or utcnow()
    request = session.get(FootageRequest, request_id)
    if request is None:
        raise NotFound.of("footage request", request_id)
    may_take_footage(actor, request)
    assignments = list(request.assignments)
    if assignment_id is not None:
        assignments = [a for a in assignments if a.id == assignment_id]
        if not assignments:
            raise NotFound.of("assignment", assignment_id)
    clips = list(
        session.scalars(
            select(FootageClip)
            .where(FootageClip.assignment_id.in_([a.id for a in assignments]))
            .order_by(FootageClip.id)
        )
    )
    by_assignment: dict[int, list[FootageClip]] = {}
    files = []
    for clip in clips:
        member = f"{CLIPS_DIR}/{clip.id}-{PurePath(clip.original_name).name or 'clip'}"
        by_assignment.setdefault(clip.assignment_id, []).append((clip, member))
        if clip.deleted_at is None:
            files.append((member, storage_dir / clip.stored_path, clip.sha256))
    commune = session.get(AdminUnit, request.commune_id)
    manifest = {
        "format": PACKAGE_FORMAT,
        "created_at": now.isoformat(),
        "created_by": actor.label,
        "scope": {"request": request.id, "assignment": assignment_id},
        "request": {
            "id": request.id,
            "case_number": request.case_ref,
            "reason": request.reason,
            "legal_basis": request.legal_basis,
            "commune": {"code": commune.code, "name": commune.name},
            "incident": _geojson(request.incident),
            "window_start": _time(request.window_start),
            "window_end": _time(request.window_end),
            "radius_m": request.radius_m,
            "status": request.status.value,
            "created_at": _time(request.created_at),
            "routed_at": _time(request.routed_at),
            "closed_at": _time(request.closed_at),
        },
        "assignments": [
            {
                "id": a.id,
                "rank": a.rank,
                "owner": {"id": a.owner_id, "kind": a.owner.kind.value},
                "preservation_deadline": _time(a.preservation_deadline),
                "lenses": [_lens_entry(item) for item in a.lenses],
                "answer": _consent_record(session, a),
                "clips": [_clip_entry(clip, member) for clip, member in by_assignment.get(a.id, [])],
            }
            for a in assignments
        ],
        "files": {"checksums": CHECKSUMS, "signature": SIGNATURE, "custody_log": CUSTODY_LOG, "public_key": PUBLIC_KEY},
        "signature": {
            "algorithm": "Ed25519",
            "signed": CHECKSUMS,
            "public_key_sha256": key_fingerprint(public_key_pem(key_path)),
        },
    }
    custody = _custody_log(session, request, assignments, clips)
    scope = f"request-{request.id}" + (f"-assignment-{assignment_id}" if assignment_id else "")
    details = {
        "request_id": request.id,
        "assignment_id": assignment_id,
        "clips": [c.id for c in clips],
        "sha256": {str(c.id): c.sha256 for c in clips},
    }
    after_read(
        session,
        lambda writer: record(writer, actor, "evidence.package_created", "request", request.id, details=details),
    )
    return Package(f"evidence-{scope}-{now.strftime('%Y%m%dT%H%M%SZ')}.zip", manifest, custody, files, key_path)


def _geojson(geometry) -> dict:
    from geoalchemy2.shape import to_shape
    from shapely.geometry import mapping

    return mapping(to_shape(geometry))


class _Pipe:
    """A write-only file for zipfile that hands what is written to the generator reading it."""

    def __init__(self):
        self.parts: list[bytes] = []
        self.position = 0

    def write(self, data) -> int:
        self.parts.append(bytes(data))
        self.position += len(data)
        return len(data)

    def tell(self) -> int:
        return self.position

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data, self.parts = b"".join(self.parts), []
        return data


def stream_package(package: Package) -> Iterator[bytes]:
    """The ZIP as it is written: each clip read from the store in pieces, hashed on the way, never held whole.

    Clips are stored (not compressed), so each is the original byte for byte. A clip that no longer matches
    the hash taken at acquisition still goes in as it is; its line in SHA256SUMS is its present hash, and
    `verify_package` reports the difference with the manifest.
    """
    pipe = _Pipe()
    sums: list[tuple[str, str]] = []
    with zipfile.ZipFile(pipe, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, data in ((MANIFEST, _json(package.manifest)), (CUSTODY_LOG, _json(package.custody_log))):
            archive.writestr(name, data)
            sums.append((hashlib.sha256(data).hexdigest(), name))
            yield pipe.take()
        for member, path, _ in package.clips:
            digest = hashlib.sha256()
            info = zipfile.ZipInfo(member, date_time=_zip_time(path))
            info.compress_type = zipfile.ZIP_STORED
            with open(path, "rb") as source, archive.open(info, "w", force_zip64=True) as target:
                while block := source.read(READ_BYTES):
                    digest.update(block)
                    target.write(block)
                    yield pipe.take()
            sums.append((digest.hexdigest(), member))
            yield pipe.take()
        public = public_key_pem(package.key_path)
        archive.writestr(PUBLIC_KEY, public)
        sums.append((hashlib.sha256(public).hexdigest(), PUBLIC_KEY))
        listing = "".join(f"{digest}  {name}\n" for digest, name in sums).encode()
        archive.writestr(CHECKSUMS, listing)
        archive.writestr(SIGNATURE, signing_key(package.key_path).sign(listing).hex() + "\n")
    yield pipe.take()


def _json(value) -> bytes:
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True).encode()


def _zip_time(path: Path) -> tuple:
    moment = datetime.fromtimestamp(path.stat().st_mtime)
    return (max(moment.year, 1980), moment.month, moment.day, moment.hour, moment.minute, moment.second)
