"""The scheduled backup: one per interval into BACKUP_DIR, the newest few kept, each outcome audited."""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from ... import db
from ..access import SYSTEM
from ..audit import record
from .backing_up import backup
from .manifest import MANIFEST, BackupSources

#: Scheduled backups are named so that the names sort by time.
SCHEDULED_PREFIX = "camera-registry-"
PARTIAL_SUFFIX = ".partial"


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
        from ... import config

        values = config.from_environment()
        bind = session_factory.kw.get("bind")
        if isinstance(bind, Engine):
            values["DATABASE_URL"] = bind.url.render_as_string(hide_password=False)
        schedule = BackupSchedule.from_config(values)
    return run_scheduled_backup(schedule, session_factory, now)
