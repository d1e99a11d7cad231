"""The SpatiaLite half: SQLite's online backup API, both ways."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy.engine import make_url

from ... import db
from .counting import Snapshot, read_snapshot, refuse_non_empty
from .manifest import BackupError


def sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(database)


def sqlite_backup(url: str, target_file: Path) -> Snapshot:
    """SQLite's online backup API, in one step: one read transaction, so one consistent snapshot, while writers
    go on in WAL. The source is opened with the app's own driver module (two SQLite libraries in one process
    do not see each other's locks)."""
    source_path = sqlite_path(url)
    if not source_path.is_file():
        raise BackupError(f"the database file {source_path} does not exist")
    module = db._sqlite_module()
    source = module.connect(str(source_path), timeout=db.BUSY_TIMEOUT_MS / 1000)
    try:
        target = module.connect(str(target_file))
        try:
            source.backup(target)
            target.execute("PRAGMA journal_mode = DELETE")  # one self-contained file, no -wal beside it
        finally:
            target.close()
    finally:
        source.close()
    os.chmod(target_file, 0o600)
    engine = db.make_engine(f"sqlite:///{target_file}")  # loads mod_spatialite, as any reader of the copy must
    try:
        with engine.connect() as connection:
            return read_snapshot(connection)
    finally:
        engine.dispose()


def sqlite_restore(backup_file: Path, target_url: str) -> None:
    target_path = sqlite_path(target_url)
    if target_path.exists():
        refuse_non_empty(target_url)
    target_path.parent.mkdir(parents=True, exist_ok=True)
    module = db._sqlite_module()
    source = module.connect(f"file:{backup_file}?mode=ro", uri=True)
    try:
        target = module.connect(str(target_path), timeout=db.BUSY_TIMEOUT_MS / 1000)
        try:
            source.backup(target)
        finally:
            target.close()
    finally:
        source.close()
