"""Resumable clip uploads (tus 1.0: core, creation, termination, expiration), for owners and for officers.

A clip of gigabytes comes from a phone on a mobile network: the connection
drops, the page is reloaded, the upload goes on from the last byte the
server kept. The HTTP layer (web/tus.py) speaks the protocol; this package
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

A module each: the protocol's values (metadata, clock, progress, problems), the
intake, an upload's lifecycle, receiving the bytes, and the stored clip.
Callers import from here.
"""

from .intake import POLICE_UPLOAD_STATES, Intake, police_intake
from .lifecycle import BATCH_SIZE, clean_abandoned_uploads, create_upload, terminate_upload, upload_progress
from .protocol import (
    MAX_CLOCK_OFFSET,
    Clock,
    Progress,
    UploadInterrupted,
    UploadProblem,
    WriteUnit,
    encode_metadata,
    parse_clock,
    parse_metadata,
)
from .receiving import CHECKPOINT_BYTES, LOCK_WAIT_SECONDS, receive_chunk

__all__ = [
    "BATCH_SIZE",
    "CHECKPOINT_BYTES",
    "LOCK_WAIT_SECONDS",
    "MAX_CLOCK_OFFSET",
    "POLICE_UPLOAD_STATES",
    "Clock",
    "Intake",
    "Progress",
    "UploadInterrupted",
    "UploadProblem",
    "WriteUnit",
    "clean_abandoned_uploads",
    "create_upload",
    "encode_metadata",
    "parse_clock",
    "parse_metadata",
    "police_intake",
    "receive_chunk",
    "terminate_upload",
    "upload_progress",
]
