"""Register imports in the background: an admin's upload is kept on disk and queued as an ImportJob, a worker
(the scheduler's `run_imports`) leases and imports it, and the admin page follows the job's row.

Why it is built this way:
- the file is received whole and stored before the job's short write unit, and one past the upload limit is
  refused at once, before anything is kept;
- the import is one transaction, all or nothing as the synchronous import, and the job settles in that same
  transaction: a job says `imported` exactly when its rows are in. A worker that dies leaves its job running
  with nothing of that run committed; once its lease runs out the next worker starts it again;
- the rows are read and checked in a read unit (`import_register(reading=...)`), so SQLite's single write lock
  is held only to compare and write, and the progress (rows_done of rows_total) goes in short write units of
  its own beside the reading, each renewing the lease;
- a run is named by its `started_at` and held until `leased_until`, both taken and renewed by conditional
  UPDATEs (SELECT ... FOR UPDATE does nothing on SQLite), so two workers never run one job at once, and a
  worker whose lease was taken over can neither write progress nor settle the job.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from ..db import READ, WRITE, is_retryable, open_session, write_unit
from ..models.base import utcnow
from ..models.import_job import ImportJob, ImportJobStatus, import_job_transition
from . import audit
from .access import SYSTEM, Actor, actor_for
from .errors import DomainError, NotFound
from .imports import ImportReport, import_register
from .imports.readers import reader_for
from .messages import refusal, stored
from .upload_limits import MB, UploadLimits, too_large
from .uploads.protocol import WriteUnit

log = logging.getLogger("camera_registry.import_jobs")

#: How long a worker holds a job without a sign of life; every progress write renews it.
LEASE = timedelta(minutes=2)
#: The bytes copied at a time from the received upload to the job's file.
COPY_BYTES = 1 * MB
#: Why a job failed, as its row keeps it; the pages say it in the reader's language.
FILE_GONE = "the uploaded file is no longer there"
STOPPED_ON_DATABASE_ERROR = "the import stopped on a database error"
STOPPED_ON_UNEXPECTED_ERROR = "the import stopped on an unexpected error"


@dataclass(frozen=True)
class ImportJobSettings:
    """Where queued files wait and what an upload may be (UPLOAD_MAX_MB, IMPORT_*)."""

    upload_dir: Path
    max_bytes: int
    limits: UploadLimits

    @classmethod
    def from_config(cls, config: Mapping) -> ImportJobSettings:
        return cls(
            upload_dir=Path(config.get("INSTANCE_PATH") or "instance") / "imports",
            max_bytes=int(config["MAX_CONTENT_LENGTH"]),
            limits=UploadLimits.from_config(config),
        )


def import_job_settings(settings: object) -> ImportJobSettings:
    """The settings a scheduled run uses: given, or read from the environment as the app reads them (the
    scheduler hands every job the notification settings)."""
    if isinstance(settings, ImportJobSettings):
        return settings
    from .. import config

    return ImportJobSettings.from_config(config.from_environment())


# --------------------------------------------------------------------------- queueing an upload


def queue_import(
    write: WriteUnit,
    actor: Actor,
    source: BinaryIO,
    filename: str,
    *,
    dry_run: bool,
    settings: ImportJobSettings,
) -> int:
    """Keep the uploaded register under the upload directory and queue its import; the job's id.

    Refused before anything is kept: someone other than an admin, a file that is no register by its name,
    and one over the upload limit (PayloadTooLarge, naming the limit); nothing stays of a refused upload."""
    actor.require_admin()
    filename = Path(filename or "").name[:255]
    reader_for(filename)
    settings.upload_dir.mkdir(parents=True, exist_ok=True)
    stored = f"{uuid.uuid4().hex}{Path(filename).suffix.lower()}"
    path = settings.upload_dir / stored
    try:
        _store(source, path, settings.max_bytes)
        return write(lambda session: _queue(session, actor, filename, stored, dry_run))
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def _store(source: BinaryIO, path: Path, max_bytes: int) -> None:
    size = 0
    with open(path, "xb") as target:
        while block := source.read(COPY_BYTES):
            size += len(block)
            if size > max_bytes:
                raise too_large(f"the upload is larger than the limit of {max_bytes / MB:g} MB")
            target.write(block)


def _queue(session: Session, actor: Actor, filename: str, stored: str, dry_run: bool) -> int:
    job = ImportJob(user_id=actor.user_id, filename=filename, stored_path=stored, dry_run=dry_run)
    session.add(job)
    session.flush()
    audit.record(session, actor, "import_job.queued", "import_job", job.id, details={"filename": filename})
    return job.id


# --------------------------------------------------------------------------- reading jobs


def recent_jobs(session: Session, actor: Actor, limit: int = 50) -> list[ImportJob]:
    """The newest jobs first, with who queued them."""
    actor.require_admin()
    newest = select(ImportJob).options(selectinload(ImportJob.user)).order_by(ImportJob.id.desc()).limit(limit)
    return list(session.scalars(newest))


def job(session: Session, actor: Actor, job_id: int) -> ImportJob:
    actor.require_admin()
    found = session.get(ImportJob, job_id)
    if found is None:
        raise NotFound(refusal("import job %(id)s does not exist", id=job_id))
    return found


# --------------------------------------------------------------------------- running jobs


@dataclass(frozen=True)
class Lease:
    """One worker's run of one job: the run is named by when it started."""

    job_id: int
    started_at: datetime


def run_imports(session_factory: sessionmaker, settings: object, now: datetime | None = None) -> Counter:
    """Scheduled: import every queued job, and every job whose worker's lease ran out, one after another."""
    job_settings = import_job_settings(settings)
    counts: Counter = Counter()
    while (lease := claim_next(session_factory, now or utcnow())) is not None:
        counts[run_job(session_factory, job_settings, lease).value] += 1
    return counts


def claim_next(session_factory: sessionmaker, now: datetime) -> Lease | None:
    """Lease the oldest job that is queued or whose worker's lease ran out; None when there is none."""

    def claim(session: Session) -> Lease | None:
        due = session.execute(
            select(ImportJob.id, ImportJob.status).where(_due(now)).order_by(ImportJob.id).limit(10)
        ).all()
        for job_id, status in due:
            action = "start" if status == ImportJobStatus.QUEUED else "restart"
            taken = session.execute(
                update(ImportJob)
                .where(ImportJob.id == job_id, ImportJob.status == status, _due(now))
                .values(
                    status=import_job_transition(status, action),
                    started_at=now,
                    leased_until=now + LEASE,
                    rows_done=0,
                )
                .execution_options(synchronize_session=False)
            ).rowcount
            if taken:
                audit.record(session, SYSTEM, f"import_job.{action}ed", "import_job", job_id)
                return Lease(job_id, now)
        return None

    return write_unit(session_factory, claim)


def _due(now: datetime):
    return or_(
        ImportJob.status == ImportJobStatus.QUEUED,
        and_(ImportJob.status == ImportJobStatus.RUNNING, ImportJob.leased_until < now),
    )


def _held(lease: Lease):
    return and_(
        ImportJob.id == lease.job_id,
        ImportJob.status == ImportJobStatus.RUNNING,
        ImportJob.started_at == lease.started_at,
    )


def run_job(session_factory: sessionmaker, settings: ImportJobSettings, lease: Lease) -> ImportJobStatus:
    """Import the leased job's file and settle the job; the status it ended in (RUNNING: left to a later run)."""
    with open_session(session_factory, READ) as session:
        job_row = session.get(ImportJob, lease.job_id)
        actor = actor_for(session, job_row.user)
    path = settings.upload_dir / (job_row.stored_path or "")
    if not job_row.stored_path or not path.is_file():
        return _settle_apart(session_factory, lease, "fail", error=FILE_GONE)
    reading = open_session(session_factory, READ)
    writing = open_session(session_factory, WRITE)
    try:
        report = import_register(
            writing,
            path,
            job_row.filename,
            actor=actor,
            dry_run=job_row.dry_run,
            progress=lambda done, total: _record_progress(session_factory, lease, done, total),
            limits=settings.limits,
            reading=reading,
            import_job_id=job_row.id,
        )
        action = "import" if report.ok else "reject"
        if not _settle(writing, lease, action, report=report_as_json(report)):
            writing.rollback()
            return ImportJobStatus.RUNNING
        writing.commit()
    except DomainError as error:  # the file as a whole: unreadable, too many rows, too large once inflated
        writing.rollback()
        status = _settle_apart(session_factory, lease, "reject", error=error.message)
    except DBAPIError as error:
        writing.rollback()
        if is_retryable(error):  # the database was busy: the lease runs out and the job runs again
            log.warning("import job %d: %s; it runs again once its lease ends", lease.job_id, error.orig)
            return ImportJobStatus.RUNNING
        log.exception("import job %d failed", lease.job_id)
        status = _settle_apart(session_factory, lease, "fail", error=STOPPED_ON_DATABASE_ERROR)
    except Exception:  # noqa: BLE001 - a job that cannot run must settle, not be retried for ever
        writing.rollback()
        log.exception("import job %d failed", lease.job_id)
        status = _settle_apart(session_factory, lease, "fail", error=STOPPED_ON_UNEXPECTED_ERROR)
    else:
        status = import_job_transition(ImportJobStatus.RUNNING, action)
    finally:
        reading.close()
        writing.close()
    if status != ImportJobStatus.RUNNING:
        path.unlink(missing_ok=True)
    return status


def _record_progress(session_factory: sessionmaker, lease: Lease, done: int, total: int) -> None:
    """Rows read so far, in a write unit of its own; it keeps the lease, and writes nothing once it was lost."""
    write_unit(
        session_factory,
        lambda session: session.execute(
            update(ImportJob)
            .where(_held(lease))
            .values(rows_done=done, rows_total=total, leased_until=utcnow() + LEASE)
            .execution_options(synchronize_session=False)
        ),
    )


def _settle(
    session: Session, lease: Lease, action: str, *, report: dict | None = None, error: str | None = None
) -> bool:
    """Settle the job in `session` if this run still holds it; False when another worker took it over."""
    values = {
        "status": import_job_transition(ImportJobStatus.RUNNING, action),
        "finished_at": utcnow(),
        "leased_until": None,
        "stored_path": None,
        "report": report,
        "error": error,
    }
    if report is not None:
        rows = report["rows"]
        values.update(rows_done=rows, rows_total=rows)
    settled = session.execute(
        update(ImportJob).where(_held(lease)).values(**values).execution_options(synchronize_session=False)
    ).rowcount
    if settled:
        details = {"error": error} if error else {"rows": report["rows"], "errors": len(report["errors"])}
        status = values["status"].value
        audit.record(
            session, SYSTEM, f"import_job.{status}", "import_job", lease.job_id, to_state=status, details=details
        )
    return bool(settled)


def _settle_apart(session_factory: sessionmaker, lease: Lease, action: str, error: str) -> ImportJobStatus:
    """Settle the job in a write unit of its own (nothing was imported); RUNNING if the run had lost it."""
    settled = write_unit(session_factory, lambda session: _settle(session, lease, action, error=error))
    return import_job_transition(ImportJobStatus.RUNNING, action) if settled else ImportJobStatus.RUNNING


def report_as_json(report: ImportReport) -> dict:
    """What the job's row keeps of the report: the counts and the listed row errors."""
    return {
        "rows": report.rows,
        **report.counts(),
        "errors": [{"row": e.row, "column": e.column, "reason": stored(e.reason)} for e in report.errors],
        "errors_not_listed": report.errors_not_listed,
    }
