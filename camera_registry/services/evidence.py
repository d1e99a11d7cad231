"""Footage as evidence: who may take a clip out, the record of every download, and evidence packages.

Video evidence follows ISO/IEC 27037 and the SWGDE guidelines (DESIGN.md §6):
the original export is kept unmodified and hashed at acquisition, the
recorder's clock offset is recorded, and every hand-over is in the custody
record. Here:

- a download is a read: who, when, which clip and its hash are audited after
  the read (`after_read`), so a download never fails on its audit row;
- an evidence package is one ZIP per request or assignment: the original
  clips byte for byte (stored, not compressed), `manifest.json`, the custody
  log (the audit events of the request, its assignments and clips),
  `SHA256SUMS` (every other member's hash) and `SHA256SUMS.sig`, an Ed25519
  signature of that list with the installation's key (outside the database,
  generated on first use, mode 0600). It is written to the client as it is
  built, never held in memory; building one is audited;
- `verify_package` checks a package: every member against the list, the
  list against the signature, each clip against the hash recorded at
  acquisition, and names plainly what does not match.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePath

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from ..db import after_read, write_in_batches
from ..models import (
    FINAL_REQUEST_STATES,
    AdminUnit,
    Assignment,
    AssignmentLens,
    AuditEvent,
    ClipUpload,
    FootageClip,
    FootageRequest,
    Role,
    UploadState,
)
from ..models.base import utcnow
from .access import SYSTEM, Actor
from .audit import record
from .clips import READ_BYTES, clip_settings
from .errors import NotFound, PermissionDenied

MANIFEST = "manifest.json"
CUSTODY_LOG = "custody_log.json"
CHECKSUMS = "SHA256SUMS"
SIGNATURE = "SHA256SUMS.sig"
PUBLIC_KEY = "signing_key.pub.pem"
CLIPS_DIR = "clips"
PACKAGE_FORMAT = "camera-registry-evidence/1"


# --------------------------------------------------------------------------- who may take footage out


def _may_take_footage(actor: Actor, request: FootageRequest) -> None:
    """The officers who may see the request (its commune's police) and administrators; staff read figures."""
    if not actor.can_read(request.commune_id):
        raise NotFound(f"footage request {request.id} not found")
    if not (actor.is_admin or actor.role == Role.COMMUNE_POLICE):
        raise PermissionDenied(f"{actor.label} may not take footage out of the service")


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
        raise NotFound(f"clip {clip_id} not found")
    _may_take_footage(actor, clip.assignment.request)
    if clip.deleted_at is not None:
        raise NotFound(f"clip {clip_id} was deleted under the retention rule; its record and hash stay")
    path = storage_dir / clip.stored_path
    if not path.is_file():
        raise NotFound(f"clip {clip_id} is missing from the clip store")
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


# --------------------------------------------------------------------------- the installation's signing key


def signing_key(path: Path) -> Ed25519PrivateKey:
    """The installation's Ed25519 key, generated on first use and kept (PEM, mode 0600) outside the database."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another worker made it at the same moment: use theirs
        else:
            with os.fdopen(fd, "wb") as target:
                target.write(pem)
    return serialization.load_pem_private_key(path.read_bytes(), password=None)


def public_key_pem(path: Path) -> bytes:
    """The public half, for verifiers to pin."""
    return (
        signing_key(path)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def key_fingerprint(public_pem: bytes) -> str:
    """SHA-256 of the raw public key, as people compare it."""
    key = serialization.load_pem_public_key(public_pem)
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


# --------------------------------------------------------------------------- building a package


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
    }


def _consent_record(session: Session, assignment: Assignment) -> dict:
    """The owner's answer, and the commitment (with its text version) that covered the recorders, if any."""
    from ..models import SharingCommitment

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
        raise NotFound(f"footage request {request_id} not found")
    _may_take_footage(actor, request)
    assignments = list(request.assignments)
    if assignment_id is not None:
        assignments = [a for a in assignments if a.id == assignment_id]
        if not assignments:
            raise NotFound(f"assignment {assignment_id} not found")
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


# --------------------------------------------------------------------------- verifying a package


@dataclass
class Verification:
    problems: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    key_pinned: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_package(path: Path, public_key: bytes | None = None) -> Verification:
    """Check every member against SHA256SUMS, SHA256SUMS against its Ed25519 signature (with `public_key` if
    given, else the key inside the package, which only proves integrity, not origin), and every clip against
    the hash the manifest recorded at acquisition."""
    result = Verification(key_pinned=public_key is not None)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        result.problems.append(f"{path}: not a readable ZIP file ({error})")
        return result
    with archive:
        names = set(archive.namelist())
        for required in (MANIFEST, CUSTODY_LOG, CHECKSUMS, SIGNATURE, PUBLIC_KEY):
            if required not in names:
                result.problems.append(f"{required} is missing from the package")
        if result.problems:
            return result
        listing = archive.read(CHECKSUMS)
        key_pem = public_key if public_key is not None else archive.read(PUBLIC_KEY)
        try:
            key = serialization.load_pem_public_key(key_pem)
            assert isinstance(key, Ed25519PublicKey)
            key.verify(bytes.fromhex(archive.read(SIGNATURE).decode().strip()), listing)
            result.checked.append(f"signature of {CHECKSUMS}: valid (key {key_fingerprint(key_pem)[:16]}...)")
        except InvalidSignature:
            result.problems.append(
                f"the signature of {CHECKSUMS} does not match"
                + (" the public key given" if public_key is not None else "")
            )
        except (ValueError, AssertionError):
            result.problems.append("the signature or the public key is malformed (not Ed25519)")
        if public_key is not None and archive.read(PUBLIC_KEY).strip() != public_key.strip():
            result.problems.append(f"{PUBLIC_KEY} in the package is not the public key given")
        listed: dict[str, str] = {}
        for line in listing.decode(errors="replace").splitlines():
            digest, _, name = line.partition("  ")
            listed[name] = digest
        for name in sorted(names - {CHECKSUMS, SIGNATURE}):
            if name not in listed:
                result.problems.append(f"{name} is in the package but not in {CHECKSUMS}")
        for name, digest in listed.items():
            if name not in names:
                result.problems.append(f"{name} is listed in {CHECKSUMS} but missing from the package")
                continue
            actual = _member_sha256(archive, name)
            if actual is None:
                result.problems.append(f"{name} is damaged (its bytes no longer match the ZIP's own checksum)")
            elif actual != digest:
                result.problems.append(f"{name}: SHA-256 {actual} does not match {digest} in {CHECKSUMS}")
            else:
                result.checked.append(f"{name}: SHA-256 matches")
        try:
            manifest = json.loads(archive.read(MANIFEST))
        except (ValueError, zipfile.BadZipFile):
            result.problems.append(f"{MANIFEST} cannot be read")
            return result
        for assignment in manifest.get("assignments", []):
            for clip in assignment.get("clips", []):
                if clip.get("deleted_at"):
                    continue
                if clip["file"] not in names:
                    result.problems.append(f"clip {clip['id']} ({clip['file']}) is missing from the package")
                elif listed.get(clip["file"]) != clip["sha256"]:
                    result.problems.append(
                        f"clip {clip['id']} ({clip['file']}) differs from the SHA-256 recorded "
                        f"at acquisition ({clip['sha256']})"
                    )
    return result


def _member_sha256(archive: zipfile.ZipFile, name: str) -> str | None:
    digest = hashlib.sha256()
    try:
        with archive.open(name) as source:
            while block := source.read(READ_BYTES):
                digest.update(block)
    except zipfile.BadZipFile:
        return None
    return digest.hexdigest()


# --------------------------------------------------------------------------- storage per commune


def storage_by_commune(session: Session, actor: Actor) -> list[dict]:
    """Bytes of clips kept (not deleted by retention) and of partial uploads, per requesting commune (admins)."""
    actor.require_admin()
    kept = {
        row.commune_id: (row.clips, row.bytes)
        for row in session.execute(
            select(
                FootageRequest.commune_id,
                func.count(FootageClip.id).label("clips"),
                func.coalesce(func.sum(FootageClip.size_bytes), 0).label("bytes"),
            )
            .join(Assignment, Assignment.request_id == FootageRequest.id)
            .join(FootageClip, FootageClip.assignment_id == Assignment.id)
            .where(FootageClip.deleted_at.is_(None))
            .group_by(FootageRequest.commune_id)
        )
    }
    partial = {
        row.commune_id: (row.uploads, row.bytes)
        for row in session.execute(
            select(
                FootageRequest.commune_id,
                func.count(ClipUpload.id).label("uploads"),
                func.coalesce(func.sum(ClipUpload.offset), 0).label("bytes"),
            )
            .join(Assignment, Assignment.request_id == FootageRequest.id)
            .join(ClipUpload, ClipUpload.assignment_id == Assignment.id)
            .where(ClipUpload.state == UploadState.RECEIVING)
            .group_by(FootageRequest.commune_id)
        )
    }
    units = {
        unit.id: unit for unit in session.scalars(select(AdminUnit).where(AdminUnit.id.in_(set(kept) | set(partial))))
    }
    rows = [
        {
            "commune_code": units[unit_id].code,
            "commune_name": units[unit_id].name,
            "clips": kept.get(unit_id, (0, 0))[0],
            "clip_bytes": int(kept.get(unit_id, (0, 0))[1]),
            "partial_uploads": partial.get(unit_id, (0, 0))[0],
            "partial_bytes": int(partial.get(unit_id, (0, 0))[1]),
        }
        for unit_id in units
    ]
    return sorted(rows, key=lambda row: (-(row["clip_bytes"] + row["partial_bytes"]), row["commune_code"]))


# --------------------------------------------------------------------------- retention

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
