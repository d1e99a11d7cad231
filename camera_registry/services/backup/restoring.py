"""Checking a backup's files, restoring it into an empty database, and verifying it in a scratch one."""

from __future__ import annotations

import logging
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from sqlalchemy.engine import make_url

from ... import db
from ..clips import file_sha256
from .counting import count_rows
from .manifest import CLIPS, DUMP_FILE, KEYS, SQLITE_FILE, BackupError, Manifest, backend_of, copy_hashing
from .postgis import pg_restore
from .spatialite import sqlite_restore

log = logging.getLogger("camera_registry.backup")


def check_files(src: Path) -> Manifest:
    """The backup's manifest, once every file it names has its recorded size and SHA-256."""
    manifest = Manifest.read(src)
    bad = []
    for entry in manifest.files:
        path = src / entry["path"]
        if not path.is_file():
            bad.append(f"{entry['path']} is missing")
        elif path.stat().st_size != entry["size"] or file_sha256(path) != entry["sha256"]:
            bad.append(f"{entry['path']} does not match its SHA-256 in the manifest")
    if bad:
        raise BackupError(f"the backup in {src} is damaged: " + "; ".join(bad))
    return manifest


@dataclass
class RestoreReport:
    tables: dict[str, int]
    files: int
    clips_in_place: int  # clips already present with the same content


def restore(src: Path, target_url: str, *, clip_dir: Path, signing_key: Path | None = None) -> RestoreReport:
    """Restore the backup in `src` into the empty database `target_url`, its clips into `clip_dir` and its key
    to `signing_key`; then count every table against the manifest. BackupError says what went wrong."""
    manifest = check_files(src)
    backend = backend_of(target_url)
    if backend != manifest.backend:
        raise BackupError(f"the backup is of a {manifest.backend} database; it cannot be restored into {backend}")
    if backend == "spatialite":
        sqlite_restore(src / SQLITE_FILE, target_url)
    else:
        pg_restore(src / DUMP_FILE, target_url)
    in_place = _restore_files(src, manifest, clip_dir, signing_key)
    engine = db.make_engine(target_url)
    try:
        with engine.connect() as connection:
            restored = count_rows(connection)
    finally:
        engine.dispose()
    differences = [
        f"{name}: {manifest.tables.get(name)} in the backup, {restored.get(name)} restored"
        for name in sorted(set(manifest.tables) | set(restored))
        if manifest.tables.get(name) != restored.get(name)
    ]
    if differences:
        raise BackupError("the restored database does not hold what the backup does: " + "; ".join(differences))
    log.info(
        "restored %s: %d tables, %d rows, %d files", src, len(restored), sum(restored.values()), len(manifest.files)
    )
    return RestoreReport(restored, len(manifest.files), in_place)


def _restore_files(src: Path, manifest: Manifest, clip_dir: Path, signing_key: Path | None) -> int:
    """Put clips and the key in place; a file already there must be the same file. Returns how many were."""
    in_place, conflicts = 0, []
    for entry in manifest.files:
        if entry["role"] == "clip":
            target = clip_dir / PurePosixPath(entry["path"]).relative_to(CLIPS)
        elif entry["role"] == "signing_key" and signing_key is not None:
            target = signing_key
        else:
            continue
        if target.exists():
            if file_sha256(target) == entry["sha256"]:
                in_place += 1
            else:
                conflicts.append(f"{target} exists and differs from the backup's {entry['path']}")
            continue
        copy_hashing(src / entry["path"], target)
    if conflicts:
        raise BackupError("files were not overwritten: " + "; ".join(conflicts))
    return in_place


@contextmanager
def scratch_database(like_url: str) -> Iterator[str]:
    """A new empty database beside `like_url` (a temp file, or a database on the same server), dropped after."""
    if backend_of(like_url) == "spatialite":
        directory = Path(tempfile.mkdtemp(prefix="camera-registry-verify-"))
        try:
            yield f"sqlite:///{directory / 'verify.sqlite'}"
        finally:
            shutil.rmtree(directory, ignore_errors=True)
        return
    name = f"camera_registry_verify_{uuid.uuid4().hex[:12]}"
    admin = db.make_engine(like_url).execution_options(isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            yield make_url(like_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()


def verify(src: Path, like_url: str) -> RestoreReport:
    """Restore the backup into a scratch database and scratch directories, and compare; nothing is kept."""
    with scratch_database(like_url) as url:
        files = Path(tempfile.mkdtemp(prefix="camera-registry-verify-files-"))
        try:
            return restore(src, url, clip_dir=files / CLIPS, signing_key=files / KEYS / "signing_key")
        finally:
            shutil.rmtree(files, ignore_errors=True)
