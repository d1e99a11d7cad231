"""Taking a backup: the database snapshot, every kept clip checked against its record, and the key."""

from __future__ import annotations

import logging
import time
from pathlib import Path, PurePosixPath

from ...models.base import utcnow
from ..clips import file_sha256
from .manifest import (
    CLIPS,
    DUMP_FILE,
    KEYS,
    SQLITE_FILE,
    BackupError,
    BackupSources,
    Manifest,
    backend_of,
    copy_hashing,
)
from .postgis import pg_backup
from .spatialite import sqlite_backup

log = logging.getLogger("camera_registry.backup")

#: Partial uploads: being written while the backup runs, and useless without the rest of the upload.
PARTIAL_UPLOADS = "incoming"


def backup(sources: BackupSources, dest: Path) -> Manifest:
    """Back up the database and its files into the new directory `dest` (mode 700); see the module's doc."""
    started = time.monotonic()
    backend = backend_of(sources.database_url)
    if dest.exists() and any(dest.iterdir()):
        raise BackupError(f"{dest} already exists and is not empty: choose a new directory")
    dest.mkdir(parents=True, exist_ok=True, mode=0o700)
    dest.chmod(0o700)
    if backend == "spatialite":
        snapshot = sqlite_backup(sources.database_url, dest / SQLITE_FILE)
    else:
        snapshot = pg_backup(sources.database_url, dest / DUMP_FILE)
    manifest = Manifest(
        backend=backend, created_at=utcnow().isoformat(), revisions=snapshot.revisions, tables=snapshot.tables
    )
    database_file = dest / manifest.database_file
    manifest.files.append(
        {
            "path": manifest.database_file,
            "role": "database",
            "size": database_file.stat().st_size,
            "sha256": file_sha256(database_file),
        }
    )
    _copy_clips(sources.clip_dir, dest, snapshot.clips, manifest)
    if sources.signing_key is not None and sources.signing_key.is_file():
        relative = f"{KEYS}/{sources.signing_key.name}"
        size, sha = copy_hashing(sources.signing_key, dest / relative)
        manifest.files.append({"path": relative, "role": "signing_key", "size": size, "sha256": sha})
    manifest.seconds = round(time.monotonic() - started, 3)
    manifest.write(dest)
    log.info(
        "backup written to %s: %d tables, %d rows, %d files, %d bytes, %d problems, %.1f s",
        dest,
        len(manifest.tables),
        sum(manifest.tables.values()),
        len(manifest.files),
        manifest.total_bytes,
        len(manifest.problems),
        manifest.seconds,
    )
    return manifest


def _copy_clips(clip_dir: Path, dest: Path, recorded: list[tuple[str, str]], manifest: Manifest) -> None:
    """Every file of the clip store but partial uploads; each clip the snapshot records must be there, unaltered."""
    copied: dict[str, str] = {}
    if clip_dir.is_dir():
        for path in sorted(clip_dir.rglob("*")):
            relative = path.relative_to(clip_dir)
            if not path.is_file() or relative.parts[0] == PARTIAL_UPLOADS:
                continue
            key = PurePosixPath(*relative.parts).as_posix()
            try:
                size, sha = copy_hashing(path, dest / CLIPS / key)
            except FileNotFoundError:  # deleted (retention) while we walked the store
                continue
            copied[key] = sha
            manifest.files.append({"path": f"{CLIPS}/{key}", "role": "clip", "size": size, "sha256": sha})
    for stored_path, recorded_sha in recorded:
        manifest.clips_checked += 1
        found = copied.get(PurePosixPath(stored_path).as_posix())
        if found is None:
            manifest.problems.append(f"clip {stored_path} is recorded in the database but missing from {clip_dir}")
        elif found != recorded_sha:
            manifest.problems.append(
                f"clip {stored_path} does not match its recorded SHA-256 (recorded {recorded_sha}, "
                f"file {found}): the file was altered"
            )
