"""Register imports run in the background: an admin uploads a file on the admin pages, a job row records it,
a worker imports it and writes its progress here, and the page follows the row until it settles.

The uploaded file is kept on disk (`stored_path`, under the upload directory) until the job settles; the
report, with its row errors, is kept on the row so the page can show it later. services/import_jobs.py runs
the jobs: `started_at` names a worker's run and `leased_until` ends it unless renewed.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, UtcDateTime, enum_column, utcnow
from .user import User


class ImportJobStatus(enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    #: The file was imported (or, for a dry run, checked) without a row error.
    IMPORTED = "imported"
    #: Row errors (the report lists them), or the file refused as a whole (`error` says why): nothing was written.
    REJECTED = "rejected"
    #: The job could not run to a report (the file vanished, the worker stopped for good).
    FAILED = "failed"


J = ImportJobStatus
IMPORT_JOB_TRANSITIONS: dict[tuple[ImportJobStatus, str], ImportJobStatus] = {
    (J.QUEUED, "start"): J.RUNNING,
    (J.QUEUED, "fail"): J.FAILED,
    (J.RUNNING, "import"): J.IMPORTED,
    (J.RUNNING, "reject"): J.REJECTED,
    (J.RUNNING, "fail"): J.FAILED,
    # A worker that died mid-import leaves the job running; the next worker starts it again.
    (J.RUNNING, "restart"): J.RUNNING,
}
FINAL_IMPORT_JOB_STATES = frozenset(ImportJobStatus) - {state for (state, _) in IMPORT_JOB_TRANSITIONS}


class ImportJobTransitionRefused(ValueError):
    """An import job state change its transition table does not allow."""


def import_job_transition(status: ImportJobStatus, action: str) -> ImportJobStatus:
    try:
        return IMPORT_JOB_TRANSITIONS[(status, action)]
    except KeyError:
        raise ImportJobTransitionRefused(f"an import job cannot {action} when {status.value}") from None


class ImportJob(Base):
    __tablename__ = "import_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    stored_path: Mapped[str | None] = mapped_column(String(500))
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[ImportJobStatus] = mapped_column(
        enum_column(ImportJobStatus), default=ImportJobStatus.QUEUED, index=True
    )
    rows_total: Mapped[int | None] = mapped_column(Integer)
    rows_done: Mapped[int] = mapped_column(Integer, default=0)
    #: ImportReport as JSON once the job settles (counts, row errors).
    report: Mapped[dict | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    #: Which worker holds the job, and until when, so a second worker never runs it twice.
    leased_until: Mapped[datetime | None] = mapped_column(UtcDateTime())

    user: Mapped[User] = relationship()
