"""What tus requests carry and are answered, as plain values: the metadata and the recorder's clock check in it,
an upload's progress, and the problems the HTTP layer maps to statuses."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from ...models import ClipUpload, UploadState
from ...timezones import LOCAL_ZONE

#: The most a recorder's clock may be off and still be taken as typed (a typo of a year is refused).
MAX_CLOCK_OFFSET = timedelta(days=400)

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


def progress_of(upload: ClipUpload) -> Progress:
    return Progress(
        upload.id,
        upload.offset,
        upload.length,
        upload.expires_at,
        upload.state,
        dict(upload.upload_metadata or {}),
        upload.clip_id,
    )


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
