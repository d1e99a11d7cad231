"""Backups and restores (services/backup.py, `camera-registry backup|restore`), on the run's backend.

The restore drill is the issue's "done when": the bundled sample, open requests and a clip an owner
uploaded through the owner-answer service; then a backup taken while writer threads commit through
write units; a restore into a new database; and every table's rows and every clip's hash compared.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
import time
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

import pytest
from shapely import Point
from soak_support import prepare_registry
from sqlalchemy import select, text

import camera_registry
from camera_registry import db, migrate
from camera_registry.db import make_engine, make_session_factory
from camera_registry.models import AuditEvent, FootageClip, Site, User
from camera_registry.models.base import utcnow
from camera_registry.services import backup as backups
from camera_registry.services import requests
from camera_registry.services.access import SYSTEM, actor_for
from camera_registry.services.audit import record
from camera_registry.services.clips import clip_format, store_clip

MP4_HEAD = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
WRITERS = 3


class Clip:
    """An owner's upload, arriving in pieces."""

    def __init__(self, content: bytes, filename: str = "cong-truoc.mp4"):
        self.content, self.filename = content, filename

    def chunks(self):
        for start in range(0, len(self.content), 64 * 1024):
            yield self.content[start : start + 64 * 1024]


@pytest.fixture()
def workdir():
    path = Path(tempfile.mkdtemp(prefix="cr_test_backup_"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture()
def registry_db(database_server):
    """A database of its own with the bundled sample and a police account per busiest commune."""
    url = database_server.new_database("drill")
    registry = prepare_registry(url, desks=2)
    engine = make_engine(url)
    yield registry, engine, make_session_factory(engine)
    engine.dispose()
    database_server.drop_database(url)


def open_requests_and_upload_a_clip(factory, registry, clip_dir: Path) -> bytes:
    """Two requests per desk, in front of its first lenses; a clip stored and recorded for the first assignment."""
    now = utcnow()
    with factory() as session:
        assignments = []
        for desk in registry.desks:
            police = session.scalar(select(User).where(User.username == f"soak.police.{desk.commune_code}"))
            for number, (lon, lat) in enumerate(desk.lens_points[:2]):
                request = requests.open_request(
                    session,
                    actor_for(session, police),
                    case_ref=f"VV-DRILL-{desk.commune_code}-{number}",
                    reason="Cướp giật",
                    legal_basis="Điều 145 BLTTHS",
                    incident=Point(lon, lat),
                    window_start=now - timedelta(hours=3),
                    window_end=now - timedelta(hours=2),
                    public_base_url="http://127.0.0.1:5000",
                )
                assignments.extend(request.assignments)
        assert assignments, "the drill needs at least one routed assignment"
        assignment_id = assignments[0].id
        session.commit()
    # The clip store's own service writes the file (hashing it as it streams); a write unit records it, as an
    # owner's upload does.
    content = MP4_HEAD + os.urandom(200_000)
    upload = Clip(content)
    stored = store_clip(
        upload.chunks(),
        storage_dir=clip_dir,
        subdirectory=str(assignment_id),
        filename=upload.filename,
        clip=clip_format(upload.filename, "video/mp4"),
        max_bytes=10**7,
    )

    def record_clip(session):
        clip = FootageClip(
            assignment_id=assignment_id,
            stored_path=stored.relative_path,
            original_name=upload.filename,
            content_type=stored.content_type,
            size_bytes=stored.size_bytes,
            sha256=stored.sha256,
            uploaded_at=now,
        )
        session.add(clip)
        session.flush()
        record(session, SYSTEM, "clip.upload_finished", "footage_clip", clip.id, details={"sha256": clip.sha256})

    db.write_unit(factory, record_clip)
    return content


class Writers:
    """Threads that each commit a site and its audit event per write unit, numbered, until stopped."""

    def __init__(self, factory, commune_id: int):
        self.factory, self.commune_id = factory, commune_id
        self.written = [0] * WRITERS
        self.errors: list[BaseException] = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._write, args=(index,), daemon=True) for index in range(WRITERS)]

    def _write(self, index: int) -> None:
        while not self.stop.is_set() and self.written[index] < 2000:
            number = self.written[index]

            def work(session, code=f"drill-{index}-{number}"):
                session.add(Site(code=code, name=f"Drill {code}", commune_id=self.commune_id))
                record(session, SYSTEM, "drill.write", "site", code)

            try:
                db.write_unit(self.factory, work)
            except BaseException as error:  # noqa: BLE001 - reported by the test
                self.errors.append(error)
                return
            self.written[index] += 1
            time.sleep(0.002)

    def __enter__(self) -> Writers:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)

    def wait_for(self, each: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while min(self.written) < each and time.monotonic() < deadline and not self.errors:
            time.sleep(0.01)
        assert min(self.written) >= each and not self.errors, (self.written, self.errors)


def all_rows(engine, table: str) -> list[str]:
    with engine.connect() as connection:
        return sorted(repr(tuple(row)) for row in connection.exec_driver_sql(f'SELECT * FROM "{table}"'))


def drill_codes(engine) -> dict[str, set[str]]:
    with engine.connect() as connection:
        sites = set(connection.scalars(select(Site.code).where(Site.code.like("drill-%"))))
        audited = set(connection.scalars(select(AuditEvent.entity_id).where(AuditEvent.action == "drill.write")))
    return {"sites": sites, "audited": audited}


def test_restore_drill(registry_db, database_server, workdir):
    registry, engine, factory = registry_db
    clip_dir = workdir / "clips"
    content = open_requests_and_upload_a_clip(factory, registry, clip_dir)
    with factory() as session:
        commune_id = session.scalar(select(Site.commune_id).limit(1))

    sources = backups.BackupSources(engine.url.render_as_string(hide_password=False), clip_dir, workdir / "key.pem")
    (workdir / "key.pem").write_text("-----BEGIN PRIVATE KEY-----\ndrill\n-----END PRIVATE KEY-----\n")
    with Writers(factory, commune_id) as writers:
        writers.wait_for(5)
        manifest = backups.backup(sources, workdir / "backup")
        before_end = sum(writers.written)
        writers.wait_for(min(writers.written) + 5)
    assert not writers.errors, writers.errors
    assert manifest.problems == [] and manifest.clips_checked == 1
    assert {entry["role"] for entry in manifest.files} == {"database", "clip", "signing_key"}

    target_url = database_server.new_database("restored")
    restored_clips = workdir / "restored-clips"
    report = backups.restore(
        workdir / "backup", target_url, clip_dir=restored_clips, signing_key=workdir / "restored-key.pem"
    )
    restored = make_engine(target_url)
    try:
        assert report.tables == manifest.tables
        # The snapshot fell while the writers ran: some of their rows are in it, and they went on after it.
        kept = drill_codes(restored)
        assert 0 < len(kept["sites"]) <= before_end < sum(writers.written)
        # ... and it is consistent: each write unit is there whole or not at all, each writer's rows a prefix.
        assert kept["sites"] == kept["audited"]
        per_writer = defaultdict(set)
        for code in kept["sites"]:
            _, index, number = code.split("-")
            per_writer[int(index)].add(int(number))
        assert all(numbers == set(range(len(numbers))) for numbers in per_writer.values()), per_writer

        # Every table's rows: those restored are exactly the source's, and the source has only the writers' later
        # rows more.
        with engine.connect() as connection:
            tables = backups.registry_tables(connection)
        later = drill_codes(engine)["sites"] - kept["sites"]
        for table in tables:
            source_rows, restored_rows = all_rows(engine, table), all_rows(restored, table)
            assert set(restored_rows) <= set(source_rows), table
            assert len(restored_rows) == manifest.tables[table], table
            extra = len(source_rows) - len(restored_rows)
            if table == "commune_figure_marks":
                # Each later site marks its commune for the figures' recount (a mark per write, until a refresh).
                assert (extra > 0) == bool(later), table
                continue
            assert extra == (len(later) if table in ("sites", "audit_events") else 0), table

        # Every clip's hash: the file restored, the database's record and the original upload agree.
        with restored.connect() as connection:
            clips = connection.execute(select(FootageClip.stored_path, FootageClip.sha256)).all()
        assert len(clips) == 1
        for stored_path, sha in clips:
            assert hashlib.sha256((restored_clips / stored_path).read_bytes()).hexdigest() == sha
            assert hashlib.sha256((clip_dir / stored_path).read_bytes()).hexdigest() == sha
            assert sha == hashlib.sha256(content).hexdigest()
        assert (workdir / "restored-key.pem").read_bytes() == (workdir / "key.pem").read_bytes()
        # The restored database is a working registry: migrated to this release's head.
        assert set(migrate.current_revisions(restored)) == set(migrate.head_revisions())
    finally:
        restored.dispose()
        database_server.drop_database(target_url)


def test_a_damaged_or_foreign_backup_is_refused_before_anything_is_written(registry_db, database_server, workdir):
    _, engine, _ = registry_db
    url = engine.url.render_as_string(hide_password=False)
    clip_dir = workdir / "clips"
    (clip_dir / "7").mkdir(parents=True)
    (clip_dir / "7" / "a.mp4").write_bytes(MP4_HEAD + b"1" * 100)
    backups.backup(backups.BackupSources(url, clip_dir), workdir / "backup")
    with pytest.raises(backups.BackupError, match="already exists and is not empty"):
        backups.backup(backups.BackupSources(url, clip_dir), workdir / "backup")

    # Into a database that holds a registry: refused.
    with pytest.raises(backups.BackupError, match="already holds a registry"):
        backups.restore(workdir / "backup", url, clip_dir=workdir / "elsewhere")
    # A clip altered after the backup: refused, and nothing is restored.
    (workdir / "backup" / "clips" / "7" / "a.mp4").write_bytes(MP4_HEAD + b"2" * 100)
    target = database_server.new_database("refused")
    try:
        with pytest.raises(backups.BackupError, match="clips/7/a.mp4 does not match its SHA-256"):
            backups.restore(workdir / "backup", target, clip_dir=workdir / "restored")
        assert not (workdir / "restored").exists()
    finally:
        database_server.drop_database(target)
    with pytest.raises(backups.BackupError, match="has no manifest.json"):
        backups.restore(workdir, target, clip_dir=workdir / "restored")


def test_a_clip_missing_or_altered_in_the_store_is_a_problem_the_backup_reports(registry_db, workdir):
    registry, engine, factory = registry_db
    clip_dir = workdir / "clips"
    open_requests_and_upload_a_clip(factory, registry, clip_dir)
    [stored] = list(clip_dir.rglob("*.mp4"))
    stored.write_bytes(MP4_HEAD + b"tampered")
    manifest = backups.backup(
        backups.BackupSources(engine.url.render_as_string(hide_password=False), clip_dir), workdir / "backup"
    )
    assert len(manifest.problems) == 1 and "does not match its recorded SHA-256" in manifest.problems[0]
    stored.unlink()
    manifest = backups.backup(
        backups.BackupSources(engine.url.render_as_string(hide_password=False), clip_dir), workdir / "backup-2"
    )
    assert len(manifest.problems) == 1 and "missing from" in manifest.problems[0]


@pytest.fixture()
def cli_app(registry_db, workdir):
    _, engine, _ = registry_db
    app = camera_registry.create_app(
        {
            "DATABASE_URL": engine.url.render_as_string(hide_password=False),
            "TESTING": True,
            "INSTANCE_PATH": str(workdir / "instance"),
            "SECRET_KEY": "test",
            "CLIP_STORAGE_DIR": str(workdir / "clips"),
            "EVIDENCE_SIGNING_KEY": str(workdir / "instance" / "signing.pem"),
            "BACKUP_DIR": str(workdir / "backups"),
        }
    )
    yield app
    app.extensions["engine"].dispose()


def test_the_backup_and_restore_commands(cli_app, database_server, workdir):
    runner = cli_app.test_cli_runner()
    (workdir / "clips" / "3").mkdir(parents=True)
    (workdir / "clips" / "3" / "c.mp4").write_bytes(MP4_HEAD + b"c" * 50)
    (workdir / "clips" / "incoming").mkdir()
    (workdir / "clips" / "incoming" / "x.part").write_bytes(b"half an upload")
    (workdir / "instance" / "signing.pem").write_text("key")

    made = runner.invoke(args=["backup", str(workdir / "b1"), "--verify"])
    assert made.exit_code == 0, made.output
    assert "backed up the " in made.output and "verified: restored into a scratch database" in made.output
    manifest = json.loads((workdir / "b1" / "manifest.json").read_text())
    paths = {entry["path"] for entry in manifest["files"]}
    assert "clips/3/c.mp4" in paths and "keys/signing.pem" in paths
    assert not any("incoming" in path for path in paths)  # partial uploads are not evidence yet
    assert manifest["tables"]["lenses"] == 666 and all(len(entry["sha256"]) == 64 for entry in manifest["files"])
    assert oct((workdir / "b1").stat().st_mode & 0o777) == "0o700"

    refused = runner.invoke(args=["restore", str(workdir / "b1")])  # into the live database: refused
    assert refused.exit_code == 1 and "already holds a registry" in refused.output

    target = database_server.new_database("cli-restore")
    try:
        restored = runner.invoke(
            args=[
                "restore",
                str(workdir / "b1"),
                "--into",
                target,
                "--clips-dir",
                str(workdir / "restored-clips"),
                "--signing-key",
                str(workdir / "restored.pem"),
            ]
        )
        assert restored.exit_code == 0, restored.output
        assert "rows match the manifest" in restored.output
        assert (workdir / "restored-clips" / "3" / "c.mp4").read_bytes() == MP4_HEAD + b"c" * 50
    finally:
        database_server.drop_database(target)


def test_the_scheduled_backup_runs_once_per_interval_keeps_n_and_audits(registry_db, workdir):
    _, engine, factory = registry_db
    url = engine.url.render_as_string(hide_password=False)
    schedule = backups.BackupSchedule(
        directory=workdir / "backups",
        keep=2,
        interval=timedelta(hours=24),
        sources=backups.BackupSources(url, workdir / "clips"),
    )
    start = utcnow()
    assert backups.scheduled_backup(factory, schedule, start) == {"backups": 1}
    assert backups.scheduled_backup(factory, schedule, start + timedelta(hours=1)) == {}  # not due yet
    for day in (1, 2, 3):
        counts = backups.scheduled_backup(factory, schedule, start + timedelta(days=day))
        assert counts["backups"] == 1
    kept = backups.completed_backups(workdir / "backups")
    assert [path.name for path in kept] == [backups.scheduled_name(start + timedelta(days=day)) for day in (2, 3)]
    with factory() as session:
        events = session.execute(
            select(AuditEvent.action, AuditEvent.entity_id, AuditEvent.details)
            .where(AuditEvent.entity_type == "backup")
            .order_by(AuditEvent.id)
        ).all()
    assert [action for action, _, _ in events] == ["backup.completed"] * 4
    assert events[-1][2]["pruned"] == 1 and events[-1][2]["rows"] > 800

    off = backups.BackupSchedule(directory=None, keep=2, interval=timedelta(hours=24), sources=schedule.sources)
    assert backups.scheduled_backup(factory, off, start + timedelta(days=9)) == {}


def test_a_failed_scheduled_backup_is_audited_and_leaves_no_partial_directory(registry_db, workdir):
    _, engine, factory = registry_db
    broken = backups.BackupSources("sqlite:////nonexistent/registry.sqlite", workdir / "clips")
    if engine.dialect.name == "postgresql":
        broken = backups.BackupSources(
            engine.url.set(database="no_such_database_here").render_as_string(hide_password=False), workdir / "clips"
        )
    schedule = backups.BackupSchedule(
        directory=workdir / "backups", keep=2, interval=timedelta(hours=24), sources=broken
    )
    with pytest.raises(Exception) as failed:  # noqa: B017 - whatever the backend's failure, it must reach the caller
        backups.scheduled_backup(factory, schedule, utcnow())
    assert not isinstance(failed.value, NameError | AttributeError | TypeError), failed.value
    assert list((workdir / "backups").iterdir()) == []
    with factory() as session:
        assert session.scalar(select(AuditEvent.action).where(AuditEvent.entity_type == "backup")) == "backup.failed"


def test_the_backup_job_is_scheduled_and_off_without_a_directory(monkeypatch):
    from camera_registry.jobs.scheduler import JOBS

    job, seconds = JOBS["backup_database"]
    assert job is backups.scheduled_backup and seconds == 3600
    monkeypatch.delenv("BACKUP_DIR", raising=False)
    assert backups.BackupSchedule.from_config({"DATABASE_URL": "sqlite:///x.sqlite"}).directory is None


def test_row_counts_cover_every_registry_table(engine):
    with engine.connect() as connection:
        counts = backups.count_rows(connection)
        assert "alembic_version" in counts and "lenses" in counts and "audit_events" in counts
        assert not any(name.startswith(("idx_", "sqlite_", "spatial")) for name in counts)
        assert (
            connection.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == counts["alembic_version"]
        )
