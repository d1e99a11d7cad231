"""Footage clips owners upload: which files are accepted, and storing one as it streams in.

A clip can be gigabytes, so it is never held in memory: it is written to a
temporary file in the clip store chunk by chunk, its SHA-256 computed on the
way, and moved into place only once complete and accepted. A refused or
broken upload leaves no file behind.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path, PurePath
from typing import Protocol

OCTET_STREAM = "application/octet-stream"
#: Enough of a file's start to recognise its container.
HEAD_BYTES = 16
#: Reading a stored clip back (hashing it, sending it): this much at a time, whatever its size.
READ_BYTES = 1024 * 1024


@dataclass(frozen=True)
class ClipSettings:
    """Where clips live and how long things are kept, as plain values (docs/configuration.md: Footage and evidence)."""

    storage_dir: Path
    max_bytes: int
    upload_expiry: timedelta  # an upload with no new byte for this long is abandoned and cleaned up
    retention: timedelta  # clips are deleted this long after their request resolved, was cancelled or expired
    signing_key_path: Path  # the installation's Ed25519 key that signs evidence packages

    @classmethod
    def from_config(cls, config: Mapping) -> ClipSettings:
        instance = Path(config.get("INSTANCE_PATH") or "instance")
        return cls(
            storage_dir=Path(config.get("CLIP_STORAGE_DIR") or instance / "clips"),
            max_bytes=int(config["CLIP_MAX_BYTES"]),
            upload_expiry=timedelta(hours=float(config["CLIP_UPLOAD_EXPIRY_HOURS"])),
            retention=timedelta(days=float(config["CLIP_RETENTION_DAYS"])),
            signing_key_path=Path(config.get("EVIDENCE_SIGNING_KEY") or instance / "evidence_signing_key.pem"),
        )


def clip_settings(settings: object) -> ClipSettings:
    """The clip settings a scheduled job runs with: given, or read from the environment as the app reads them
    (the scheduler hands every job the notification settings; the clip jobs take theirs from the same place)."""
    if isinstance(settings, ClipSettings):
        return settings
    from .. import config

    return ClipSettings.from_config(config.from_environment())


def file_sha256(path: Path) -> str:
    """The SHA-256 of a stored file, read in bounded pieces."""
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        while block := source.read(READ_BYTES):
            digest.update(block)
    return digest.hexdigest()


def final_path(subdirectory: str, filename: str) -> PurePath:
    """Where a kept clip goes under the store: a random name, the original extension."""
    return PurePath(subdirectory) / f"{uuid.uuid4().hex}{PurePath(filename).suffix.lower()}"


def safe_name(filename: str) -> str:
    """The file's own name, without any path a client sent along, at most 255 characters."""
    return PurePath((filename or "").replace("\\", "/")).name[:255]


class ClipRefused(Exception):
    """An upload that is not kept; `reason` is a short code the owner's page explains."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class ClipTooLarge(ClipRefused):
    def __init__(self, max_bytes: int):
        super().__init__("too_large", f"larger than {max_bytes} bytes")


def _mp4_or_mov(head: bytes) -> bool:
    # ISO base media: a box size, then its type; QuickTime files may open with other atoms than ftyp.
    return head[4:8] in (b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot")


def _matroska(head: bytes) -> bool:
    return head.startswith(b"\x1a\x45\xdf\xa3")  # EBML, for .mkv and .webm alike


@dataclass(frozen=True)
class ClipFormat:
    content_type: str
    looks_right: Callable[[bytes], bool] | None  # None: the format's first bytes vary between makers


#: Accepted by extension, with the MIME type a browser may declare and a cheap test of the file's first bytes.
FORMATS: dict[str, ClipFormat] = {
    ".mp4": ClipFormat("video/mp4", _mp4_or_mov),
    ".m4v": ClipFormat("video/mp4", _mp4_or_mov),
    ".mov": ClipFormat("video/quicktime", _mp4_or_mov),
    ".avi": ClipFormat("video/x-msvideo", lambda head: head[:4] == b"RIFF" and head[8:12] == b"AVI "),
    ".mkv": ClipFormat("video/x-matroska", _matroska),
    ".webm": ClipFormat("video/webm", _matroska),
    ".ts": ClipFormat("video/MP2T", lambda head: head[:1] == b"\x47"),  # MPEG-TS sync byte
    # DVR exports: Dahua's .dav differs between firmware versions; raw H.264 opens with a start code.
    ".dav": ClipFormat(OCTET_STREAM, None),
    ".h264": ClipFormat(OCTET_STREAM, lambda head: head.startswith((b"\x00\x00\x00\x01", b"\x00\x00\x01"))),
}

#: Whatever the extension says, files starting like this are not footage.
NOT_FOOTAGE = (b"MZ", b"\x7fELF", b"PK\x03\x04", b"%PDF", b"#!", b"<", b"\xca\xfe\xba\xbe", b"\xcf\xfa\xed\xfe")


def clip_format(filename: str, declared_type: str) -> ClipFormat:
    """The accepted format of a file by its name and declared type; ClipRefused when either is not allowed."""
    extension = PurePath(filename).suffix.lower()
    clip = FORMATS.get(extension)
    if clip is None:
        raise ClipRefused("type", f"{extension or 'no extension'} is not a video format we accept")
    declared = (declared_type or OCTET_STREAM).split(";")[0].strip().lower()
    if declared not in (clip.content_type.lower(), OCTET_STREAM):
        raise ClipRefused("type", f"{declared} does not match {extension}")
    return clip


def check_head(clip: ClipFormat, head: bytes) -> None:
    """Refuse a file whose first bytes are not the container its name says (or are a program, a PDF, ...)."""
    if head.startswith(NOT_FOOTAGE) or (clip.looks_right is not None and not clip.looks_right(head)):
        raise ClipRefused("type", "the file's content is not the video format its name says")


class ClipUpload(Protocol):
    """An upload as it arrives; the HTTP layer implements it over the request body."""

    def open(self) -> tuple[str, str]:
        """Read up to the file and return its name and declared type; ClipRefused when there is none."""

    def chunks(self) -> Iterator[bytes]:
        """The file's bytes as they arrive; ClipTooLarge when the body outgrows its limit."""


@dataclass(frozen=True)
class StoredClip:
    relative_path: str  # under the clip store, so the store can move
    size_bytes: int
    sha256: str
    content_type: str


def store_clip(
    chunks: Iterable[bytes], *, storage_dir: Path, subdirectory: str, filename: str, clip: ClipFormat, max_bytes: int
) -> StoredClip:
    """Write the chunks to the store, hashing and counting as they come; refused or failed: nothing stays."""
    incoming = storage_dir / "incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    partial = incoming / f"{uuid.uuid4().hex}.part"
    digest, size, head = hashlib.sha256(), 0, b""
    try:
        with open(partial, "xb") as target:
            os.chmod(partial, 0o600)
            for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise ClipTooLarge(max_bytes)
                if len(head) < HEAD_BYTES:
                    head += chunk[: HEAD_BYTES - len(head)]
                    if len(head) == HEAD_BYTES:
                        check_head(clip, head)  # refuse early, before gigabytes of something else arrive
                digest.update(chunk)
                target.write(chunk)
        if size == 0:
            raise ClipRefused("empty", "the file is empty")
        if len(head) < HEAD_BYTES:
            check_head(clip, head)
        relative = final_path(subdirectory, filename)
        (storage_dir / relative).parent.mkdir(parents=True, exist_ok=True)
        os.replace(partial, storage_dir / relative)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return StoredClip(relative.as_posix(), size, digest.hexdigest(), clip.content_type)
