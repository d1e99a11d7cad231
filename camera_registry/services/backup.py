"""Backups with a manifest, a checked restore, and the scheduled backup job (docs/operations.md).

A backup is a directory:

    database.sqlite   SpatiaLite: an online copy made with SQLite's backup API, one consistent snapshot
                      taken while the service runs (never a file copy of a live WAL database)
    database.dump     PostGIS: `pg_dump --format=custom` of one exported snapshot
    clips/...         every kept clip of the clip store (partial uploads under incoming/ are not kept)
    keys/...          the evidence signing key, when the installation has one
    manifest.json     backend, Alembic revision, rows per table, and the size and SHA-256 of every file

The row counts are taken in the very snapshot that was copied (SpatiaLite: from the copy; PostGIS: in
the transaction whose snapshot pg_dump was given), so a restore must reproduce them exactly. Every clip
the snapshot records is copied and its SHA-256 checked against the database's: a clip that is missing
or altered is a problem the backup reports (it still completes, so one bad file never costs the rest).

A restore checks every file's SHA-256 first, refuses a target database that already holds a registry,
loads the database, puts the clips and the key in place (never overwriting a different file), then
counts every table of the restored database against the manifest.

No Flask here: the CLI and the scheduler call these functions with plain values.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath

from sqlalchemy import Engine, func, inspect, select, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.orm import sessionmaker

from .. import db
from ..models import Base
from ..models.base import utcnow
from .access import SYSTEM
from .audit import record
from .clips import ClipSettings, file_sha256

log = logging.getLogger("camera_registry.backup")

FORMAT = 1
MANIFEST = "manifest.json"
SQLITE_FILE = "database.sqlite"
DUMP_FILE = "database.dump"
CLIPS = "clips"
KEYS = "keys"
#: Partial uploads: being written while the backup runs, and useless without the rest of the upload.
PARTIAL_UPLOADS = "incoming"
#: Scheduled backups are named so that the names sort by time.
SCHEDULED_PREFIX = "camera-registry-"
PARTIAL_SUFFIX = ".partial"
READ_BYTES = 1024 * 1024


class BackupError(RuntimeError):
    """A backup or restore that could not be made or cannot be trusted; the message says why."""


# --------------------------------------------------------------------------- what is backed up


@dataclass(frozen=True)
class BackupSources:
    """The database and the files outside it."""

    database_url: str
    clip_dir: Path
    signing_key: Path | None = None  # copied when the file exists

    @classmethod
    def from_config(cls, config: Mapping) -> BackupSources:

        instance = Path(config.get("INSTANCE_PATH") or "instance")
        clip_dir = Path(config.get("CLIP_STORAGE_DIR") or instance / "clips")
        try:
            key = ClipSettings.from_config(config).signing_key_path
        except (KeyError, TypeError, ValueError):
            key = Path(config.get("EVIDENCE_SIGNING_KEY") or instance / "evidence_signing_key.pem")
        return cls(database_url=config["DATABASE_URL"], clip_dir=clip_dir, signing_key=key)


@dataclass
class Manifest:
    backend: str  # "spatialite" or "postgis"
    created_at: str
    revisions: list[str]
    tables: dict[str, int]
    files: list[dict] = field(default_factory=list)  # {"path", "role", "size", "sha256"}, paths relative to the backup
    clips_checked: int = 0
    problems: list[str] = field(default_factory=list)
    format: int = FORMAT
    seconds: float = 0.0

    @property
    def database_file(self) -> str:
        return SQLITE_FILE if self.backend == "spatialite" else DUMP_FILE

    @property
    def total_bytes(self) -> int:
        return sum(entry["size"] for entry in self.files)

    def write(self, directory: Path) -> None:
        path = directory / MANIFEST
        path.write_text(json.dumps(asdict(self), indent=2, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")
        path.chmod(0o600)

    @classmethod
    def read(cls, directory: Path) -> Manifest:
        path = directory / MANIFEST
        if not path.is_file():
            raise BackupError(f"{directory} is not a backup: it has no {MANIFEST}")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as error:
            raise BackupError(f"{path} cannot be read: {error}") from None
        if data.get("format") != FORMAT:
            raise BackupError(f"{path} is in backup format {data.get('format')!r}; this release reads format {FORMAT}")
        known = set(cls.__dataclass_fields__)
        return cls(**{key: value for key, value in data.items() if key in known})


def backend_of(url: str) -> str:
    name = make_url(url).get_backend_name()
    if name == "sqlite":
        return "spatialite"
    if name == "postgresql":
        return "postgis"
    raise BackupError(f"cannot back up a {name} database")


def _copy_hashing(source: Path, target: Path) -> tuple[int, str]:
    """Copy `source` to `target` (mode 600), returning the size and SHA-256 of what was copied."""
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    digest, size = hashlib.sha256(), 0
    with open(source, "rb") as reader, open(target, "xb") as writer:
        os.chmod(target, 0o600)
        while block := reader.read(READ_BYTES):
            digest.update(block)
            size += len(block)
            writer.write(block)
    return size, digest.hexdigest()


# --------------------------------------------------------------------------- counting


def registry_tables(connection: Connection) -> list[str]:
    """The registry's own tables present in the database (not SpatiaLite's or PostGIS's), and alembic_version."""
    present = set(inspect(connection).get_table_names())
    names = [table.name for table in Base.metadata.sorted_tables if table.name in present]
    return names + (["alembic_version"] if "alembic_version" in present else [])


def count_rows(connection: Connection) -> dict[str, int]:
    counts = {}
    for name in registry_tables(connection):
        table = Base.metadata.tables.get(name)
        query = select(func.count()).select_from(table) if table is not None else text(f'SELECT count(*) FROM "{name}"')
        counts[name] = int(connection.execute(query).scalar_one())
    return counts


def _revisions(connection: Connection) -> list[str]:
    if "alembic_version" not in inspect(connection).get_table_names():
        return []
    return sorted(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())


def _recorded_clips(connection: Connection) -> list[tuple[str, str]]:
    """(stored path, SHA-256) of every clip the database records."""
    if "footage_clips" not in inspect(connection).get_table_names():
        return []
    return [(path, sha) for path, sha in connection.execute(text("SELECT stored_path, sha256 FROM footage_clips"))]


@dataclass
class _Snapshot:
    revisions: list[str]
    tables: dict[str, int]
    clips: list[tuple[str, str]]


def _read_snapshot(connection: Connection) -> _Snapshot:
    return _Snapshot(_revisions(connection), count_rows(connection), _recorded_clips(connection))


# --------------------------------------------------------------------------- backing up


def backup(sources: BackupSources, dest: Path) -> Manifest:
    """Back up the database and its files into the new directory `dest` (mode 700); see the module's doc."""
    started = time.monotonic()
    backend = backend_of(sources.database_url)
    if dest.exists() and any(dest.iterdir()):
        raise BackupError(f"{dest} already exists and is not empty: choose a new directory")
    dest.mkdir(parents=True, exist_ok=True, mode=0o700)
    dest.chmod(0o700)
    if backend == "spatialite":
        snapshot = _sqlite_backup(sources.database_url, dest / SQLITE_FILE)
    else:
        snapshot = _pg_backup(sources.database_url, dest / DUMP_FILE)
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
        size, sha = _copy_hashing(sources.signing_key, dest / relative)
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


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(database)


def _sqlite_backup(url: str, target_file: Path) -> _Snapshot:
    """SQLite's online backup API, in one step: one read transaction, so one consistent snapshot, while writers
    go on in WAL. The source is opened with the app's own driver module (two SQLite libraries in one process
    do not see each other's locks)."""
    source_path = _sqlite_path(url)
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
            return _read_snapshot(connection)
    finally:
        engine.dispose()


def _pg_tool(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    for directory in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (directory / name).is_file():
            return str(directory / name)
    raise BackupError(f"{name} was not found: install the PostgreSQL client (apt-get install postgresql-client)")


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """A libpq connection string for `url` without its password, which goes in the environment instead
    (a command line is visible to every user of the machine)."""
    parsed = make_url(url)
    parts = {
        "host": parsed.host,
        "port": parsed.port,
        "dbname": parsed.database,
        "user": parsed.username,
        **{key: value for key, value in parsed.query.items() if isinstance(value, str)},
    }
    conninfo = " ".join(f"{key}='{str(value)}'" for key, value in parts.items() if value not in (None, ""))
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    return conninfo, env


def _run(argv: list[str], env: dict[str, str], what: str) -> None:
    result = subprocess.run(argv, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise BackupError(f"{what} failed (exit {result.returncode}): {result.stderr.strip()[-2000:]}")


def _pg_backup(url: str, target_file: Path) -> _Snapshot:
    """pg_dump of a snapshot this transaction exports and holds open, in which the rows are also counted."""
    tool = _pg_tool("pg_dump")
    conninfo, env = _libpq(url)
    engine = db.make_engine(url)
    try:
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as connection, connection.begin():
            connection.exec_driver_sql("SET TRANSACTION READ ONLY")
            snapshot_id = connection.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one()
            snapshot = _read_snapshot(connection)
            _run(
                [
                    tool,
                    "--format=custom",
                    f"--snapshot={snapshot_id}",
                    "--no-password",
                    f"--file={target_file}",
                    f"--dbname={conninfo}",
                ],
                env,
                "pg_dump",
            )
    finally:
        engine.dispose()
    os.chmod(target_file, 0o600)
    return snapshot


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
                size, sha = _copy_hashing(path, dest / CLIPS / key)
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


# --------------------------------------------------------------------------- checking and restoring


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


def _holds_registry(connection: Connection) -> bool:
    present = set(inspect(connection).get_table_names())
    return "alembic_version" in present or any(table.name in present for table in Base.metadata.sorted_tables)


def restore(src: Path, target_url: str, *, clip_dir: Path, signing_key: Path | None = None) -> RestoreReport:
    """Restore the backup in `src` into the empty database `target_url`, its clips into `clip_dir` and its key
    to `signing_key`; then count every table against the manifest. BackupError says what went wrong."""
    manifest = check_files(src)
    backend = backend_of(target_url)
    if backend != manifest.backend:
        raise BackupError(f"the backup is of a {manifest.backend} database; it cannot be restored into {backend}")
    if backend == "spatialite":
        _sqlite_restore(src / SQLITE_FILE, target_url)
    else:
        _pg_restore(src / DUMP_FILE, target_url)
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


def _refuse_non_empty(target_url: str) -> None:
    engine = db.make_engine(target_url)
    try:
        with engine.connect() as connection:
            if _holds_registry(connection):
                raise BackupError(
                    "the target database already holds a registry: restore into a new, empty database "
                    "(--into URL), or drop this one first"
                )
    finally:
        engine.dispose()


def _sqlite_restore(backup_file: Path, target_url: str) -> None:
    target_path = _sqlite_path(target_url)
    if target_path.exists():
        _refuse_non_empty(target_url)
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


def _pg_restore(dump_file: Path, target_url: str) -> None:
    _refuse_non_empty(target_url)
    conninfo, env = _libpq(target_url)
    _run(
        [
            _pg_tool("pg_restore"),
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            "--single-transaction",
            "--no-password",
            f"--dbname={conninfo}",
            str(dump_file),
        ],
        env,
        "pg_restore",
    )


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
        _copy_hashing(src / entry["path"], target)
    if conflicts:
        raise BackupError("files were not overwritten: " + "; ".join(conflicts))
    return in_place


# --------------------------------------------------------------------------- verifying


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


# --------------------------------------------------------------------------- the scheduled backup


@dataclass(frozen=True)
class BackupSchedule:
    directory: Path | None  # None: scheduled backups are off
    keep: int
    interval: timedelta
    sources: BackupSources

    @classmethod
    def from_config(cls, config: Mapping) -> BackupSchedule:
        directory = config.get("BACKUP_DIR") or ""
        return cls(
            directory=Path(directory) if directory else None,
            keep=max(1, int(config.get("BACKUP_KEEP", 7))),
            interval=timedelta(hours=float(config.get("BACKUP_INTERVAL_HOURS", 24))),
            sources=BackupSources.from_config(config),
        )


def scheduled_name(now: datetime) -> str:
    return f"{SCHEDULED_PREFIX}{now.astimezone(UTC):%Y%m%dT%H%M%SZ}"


def completed_backups(directory: Path) -> list[Path]:
    """The complete scheduled backups in `directory`, oldest first."""
    if not directory.is_dir():
        return []
    return sorted(
        path
        for path in directory.iterdir()
        if path.is_dir()
        and path.name.startswith(SCHEDULED_PREFIX)
        and not path.name.endswith(PARTIAL_SUFFIX)
        and (path / MANIFEST).is_file()
    )


def _taken_at(path: Path) -> datetime | None:
    try:
        return datetime.strptime(path.name[len(SCHEDULED_PREFIX) :], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def run_scheduled_backup(schedule: BackupSchedule, session_factory: sessionmaker, now: datetime) -> Counter:
    """Back up when the newest backup is older than the interval; keep the newest `keep`; audit the outcome."""
    if schedule.directory is None:
        return Counter()
    existing = completed_backups(schedule.directory)
    newest = _taken_at(existing[-1]) if existing else None
    # A little slack, so a daily backup does not slip by one tick every day.
    if newest is not None and now - newest < schedule.interval - timedelta(minutes=5):
        return Counter()
    schedule.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    for stale in schedule.directory.glob(
        f"{SCHEDULED_PREFIX}*{PARTIAL_SUFFIX}"
    ):  # a run that died: one runner at a time
        shutil.rmtree(stale, ignore_errors=True)
    name = scheduled_name(now)
    partial = schedule.directory / f"{name}{PARTIAL_SUFFIX}"
    try:
        manifest = backup(schedule.sources, partial)
        partial.rename(schedule.directory / name)
    except Exception as error:
        shutil.rmtree(partial, ignore_errors=True)
        note = str(error)[:2000]
        db.write_unit(
            session_factory,
            lambda session: record(
                session,
                SYSTEM,
                "backup.failed",
                "backup",
                name,
                note=note,
                details={"directory": str(schedule.directory)},
            ),
        )
        raise
    pruned = 0
    for old in completed_backups(schedule.directory)[: -schedule.keep]:
        shutil.rmtree(old, ignore_errors=True)
        pruned += 1
    outcome = "backup.completed" if not manifest.problems else "backup.completed_with_problems"
    db.write_unit(
        session_factory,
        lambda session: record(
            session,
            SYSTEM,
            outcome,
            "backup",
            name,
            note="; ".join(manifest.problems)[:2000] or None,
            details={
                "directory": str(schedule.directory),
                "rows": sum(manifest.tables.values()),
                "files": len(manifest.files),
                "bytes": manifest.total_bytes,
                "seconds": manifest.seconds,
                "problems": len(manifest.problems),
                "pruned": pruned,
            },
        ),
    )
    return +Counter(backups=1, problems=len(manifest.problems), pruned=pruned)  # + drops the zeros


def scheduled_backup(session_factory: sessionmaker, settings: object, now: datetime) -> Counter:
    """The scheduler's job (jobs/scheduler.py JOBS): settings from the environment, as the app reads them,
    unless a BackupSchedule is given; the database is the scheduler's own."""
    if isinstance(settings, BackupSchedule):
        schedule = settings
    else:
        from .. import config

        values = config.from_environment()
        bind = session_factory.kw.get("bind")
        if isinstance(bind, Engine):
            values["DATABASE_URL"] = bind.url.render_as_string(hide_password=False)
        schedule = BackupSchedule.from_config(values)
    return run_scheduled_backup(schedule, session_factory, now)
