"""Bulk import of the registers communes keep: one row per lens, as CSV, XLSX or GeoJSON.

The whole file is checked before anything is written, so a register with one
bad row changes nothing and the clerk sees every problem at once. Rows match
the registry on external ids (codes for sites), so importing the same file
twice changes nothing. Writes are batched Core statements: a city register
holds tens of thousands of lenses.

Rules a clerk can rely on:
- a lens may move to another recorder of the same owner (an update); a lens
  or recorder is never moved to another owner by an import, since handing
  cameras to someone else is a decision, not a correction;
- a commitment signed on the same day (Vietnam time) as a stored one is that
  commitment, and only its validity changes; another day is a renewal, a new
  row, so the history of what was promised stays;
- an optional column left out of the file keeps what the registry holds;
- an owner is registered in the commune of their rows (writer.owner_commune).

The package splits the work by job: `readers` (file formats to rows),
`cells` (one row's cells), `register` (the file as records), `plan` (the
records against the registry) and `writer` (the bulk writer, which the sample
loader shares).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from sqlalchemy.orm import Session

from .. import audit
from ..access import Actor
from ..errors import PermissionDenied
from ..messages import refusal
from ..upload_limits import UploadLimits, too_many_rows
from .cells import OPTIONAL_COLUMNS, REQUIRED_COLUMNS, header_is_complete
from .plan import Plan
from .readers import MAX_ROWS, open_table
from .register import Register
from .report import ENTITIES, LISTED_ERRORS, EntityCounts, ErrorLog, ImportReport, RowError
from .writer import BATCH


def import_register(
    session: Session,
    source: BinaryIO | Path,
    filename: str,
    *,
    actor: Actor,
    dry_run: bool = False,
    progress: Callable[[int, int], None] | None = None,
    limits: UploadLimits | None = None,
    reading: Session | None = None,
    import_job_id: int | None = None,
) -> ImportReport:
    """Check a register file and, when every row is acceptable and this is no dry run, write it.

    Writes happen in the caller's transaction, all or nothing. `progress(done,
    total)` follows the rows as they are read, every BATCH rows; `total` is an
    estimate until the last call, made once every row is read and before the
    registry is compared or written. Given `reading` (a read unit), the rows
    are read and checked there, so `session` takes SQLite's write lock only to
    compare and write, and progress can be recorded beside the reading; its
    transaction ends once the rows are read.
    Each new commitment gets its consent record (on paper, from `import_job_id` when a job runs the import).
    Raises ValidationFailed when the file itself cannot be read or holds more
    rows than `limits` allow, and PayloadTooLarge when it would expand past
    them (checked before it is read into memory).
    """
    limits = limits or UploadLimits()
    if actor.writable_communes is not None and not actor.writable_communes:
        raise PermissionDenied(refusal("%(actor)s may read the registry but not import into it", actor=actor.name))
    report = ImportReport(filename=filename, dry_run=dry_run)
    errors = ErrorLog()
    notify = progress or (lambda done, total: None)
    session.flush()
    with open_table(source, filename, errors, limits) as table:
        if table.total > limits.max_rows:
            raise too_many_rows(limits.max_rows)
        if not header_is_complete(table.columns, errors):
            return _finish(report, errors)
        register = Register(reading or session, actor, table.columns, errors)
        for number, cells in table.rows:
            if cells is not None and not any(cells.values()):
                continue  # a blank line between blocks of a register
            report.rows += 1
            if report.rows > limits.max_rows:
                raise too_many_rows(limits.max_rows)
            if cells is not None:
                register.add_row(number, cells)
            if report.rows % BATCH == 0:
                notify(report.rows, max(table.total, report.rows))
    notify(report.rows, report.rows)
    if reading is not None:
        reading.rollback()  # the reading is over: its snapshot goes before the write lock is taken
        register.session = session
    register.check_places()
    plan = Plan(session, actor, register, errors, import_job_id)
    plan.compare()
    for name in ENTITIES:
        setattr(report, name, plan.counts(name))
    if errors.count == 0:
        if not dry_run:
            plan.write()
        audit.record(
            session,
            actor,
            "registry.import",
            "register_file",
            details={
                "filename": filename,
                "rows": report.rows,
                "dry_run": dry_run,
                **report.counts(),
            },
        )
    return _finish(report, errors)


def _finish(report: ImportReport, errors: ErrorLog) -> ImportReport:
    report.errors = errors.listed()
    report.errors_not_listed = errors.count - len(report.errors)
    return report


__all__ = [
    "EntityCounts",
    "ImportReport",
    "LISTED_ERRORS",
    "MAX_ROWS",
    "OPTIONAL_COLUMNS",
    "REQUIRED_COLUMNS",
    "RowError",
    "import_register",
]
