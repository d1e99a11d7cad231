"""The admins' register imports, /admin/imports: upload a register (CSV, XLSX, GeoJSON), follow its import in
the background, and read its counts or its row errors.

The upload is received whole before a short write unit queues the job (`reads_then_writes`), so a slow upload
holds no lock; the scheduler's `run_imports` job imports it within seconds. The page's script
(static/js/import-upload.js) shows the upload's progress, then polls the job's status route until it settles;
without the script the form posts as usual and the job page says where the job stands.

Admins only: anyone else signed in gets the plain 403 page, anyone signed out the login page.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from werkzeug.exceptions import RequestEntityTooLarge

from ..http.actor import current_actor
from ..http.messages import translated, translated_errors
from ..http.statuses import status_of
from ..http.units import get_session, reads_then_writes, write_unit
from ..models.import_job import FINAL_IMPORT_JOB_STATES, ImportJob, ImportJobStatus
from ..services import import_jobs
from ..services.errors import DomainError
from ..services.imports import ENTITIES
from ..services.messages import restored
from ..services.upload_limits import MB
from .auth import signed_in

blueprint = Blueprint("admin_imports", __name__, url_prefix="/admin/imports")

#: A job's status as the page says it.
STATUS_NAMES = {
    ImportJobStatus.QUEUED: lazy_gettext("Waiting to start"),
    ImportJobStatus.RUNNING: lazy_gettext("Importing"),
    ImportJobStatus.IMPORTED: lazy_gettext("Imported"),
    ImportJobStatus.REJECTED: lazy_gettext("Rejected, nothing written"),
    ImportJobStatus.FAILED: lazy_gettext("Failed"),
}
ENTITY_NAMES = {
    "sites": lazy_gettext("Sites"),
    "owners": lazy_gettext("Owners"),
    "recorders": lazy_gettext("Recorders"),
    "lenses": lazy_gettext("Lenses"),
    "commitments": lazy_gettext("Commitments"),
}
#: Why a job failed, in the reader's language; a file refused as a whole is shown as the import refused it.
JOB_ERRORS = {
    import_jobs.FILE_GONE: lazy_gettext("The uploaded file is no longer there; upload it again."),
    import_jobs.STOPPED_ON_DATABASE_ERROR: lazy_gettext("The import stopped on a database error; upload it again."),
    import_jobs.STOPPED_ON_UNEXPECTED_ERROR: lazy_gettext("The import stopped on an unexpected error."),
}
#: Row errors shown on a job's page; the rest are counted ("and N more").
ROW_ERRORS_SHOWN = 200


def _settings() -> import_jobs.ImportJobSettings:
    return import_jobs.ImportJobSettings.from_config(current_app.config)


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


def _upload_messages() -> dict[str, str]:
    """What the upload script says, in the page's language."""
    return {
        "choose_file": _("Choose a register file first."),
        "too_large": _too_large_message(),
        "uploading": _("Uploading the file…"),
        "failed": _("The upload failed; try again."),
        "offline": _("The connection was lost; try again when you are back online."),
    }


def _too_large_message() -> str:
    return _("The file is larger than the upload limit of %(size)s MB.", size=f"{_settings().max_bytes / MB:g}")


def _list_page(errors: dict | None = None, status: int = 200):
    actor = current_actor()
    jobs = import_jobs.recent_jobs(get_session(), actor)
    return render_template(
        "admin/imports.html",
        jobs=jobs,
        errors=errors or {},
        status_names=STATUS_NAMES,
        messages=_upload_messages(),
        max_bytes=_settings().max_bytes,
    ), status


def _refused(errors: dict, status: int):
    errors = translated_errors(errors)
    if _wants_json():
        return jsonify({"errors": errors}), status
    return _list_page(errors, status)


@blueprint.get("")
@signed_in
def page():
    return _list_page()


@blueprint.post("")
@signed_in
@reads_then_writes
def upload():
    actor = current_actor()
    actor.require_admin()
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _refused({"file": [_("Choose a register file first.")]}, 400)
    try:
        job_id = import_jobs.queue_import(
            write_unit,
            actor,
            upload.stream,
            upload.filename,
            dry_run=request.form.get("dry_run") == "1",
            settings=_settings(),
        )
    except DomainError as error:
        return _refused(error.errors or {"file": [error.message]}, status_of(error))
    if _wants_json():
        urls = {"url": url_for(".job_page", job_id=job_id), "status": url_for(".job_status", job_id=job_id)}
        return jsonify({"id": job_id, **urls}), 202
    return redirect(url_for(".job_page", job_id=job_id), 303)


@blueprint.errorhandler(RequestEntityTooLarge)
def too_large(error):
    """Past UPLOAD_MAX_MB the body is refused while it is read, before the view (or the CSRF check) sees it."""
    return _refused({"file": [_too_large_message()]}, 413)


def _percent(job: ImportJob) -> int:
    if job.status in FINAL_IMPORT_JOB_STATES and job.status != ImportJobStatus.FAILED:
        return 100
    return min(100, job.rows_done * 100 // job.rows_total) if job.rows_total else 0


@blueprint.get("/<int:job_id>")
@signed_in
def job_page(job_id: int):
    job = import_jobs.job(get_session(), current_actor(), job_id)
    report = job.report or {}
    listed = report.get("errors", [])
    hidden = max(0, len(listed) - ROW_ERRORS_SHOWN) + report.get("errors_not_listed", 0)
    return render_template(
        "admin/imports_job.html",
        job=job,
        status_names=STATUS_NAMES,
        settled=job.status in FINAL_IMPORT_JOB_STATES,
        percent=_percent(job),
        error=JOB_ERRORS.get(job.error, job.error),
        counts=[(ENTITY_NAMES[name], report[name]) for name in ENTITIES if name in report],
        row_errors=[{**error, "reason": translated(restored(error["reason"]))} for error in listed[:ROW_ERRORS_SHOWN]],
        hidden_errors=hidden,
    )


@blueprint.get("/<int:job_id>/status")
@signed_in
def job_status(job_id: int):
    """Where the job stands, for the page's progress bar."""
    job = import_jobs.job(get_session(), current_actor(), job_id)
    return jsonify(
        {
            "id": job.id,
            "status": job.status.value,
            "status_text": str(STATUS_NAMES[job.status]),
            "rows_done": job.rows_done,
            "rows_total": job.rows_total,
            "percent": _percent(job),
            "settled": job.status in FINAL_IMPORT_JOB_STATES,
        }
    )
