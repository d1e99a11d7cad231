"""/api/v1/imports: a commune register (CSV, XLSX or GeoJSON) in, a report out; all or nothing."""

from __future__ import annotations

import marshmallow as ma
from flask import current_app
from flask.views import MethodView
from flask_smorest.fields import Upload

from ..schemas.base import StrictSchema
from ..services import imports
from ..services.errors import ValidationFailed
from ..services.messages import refusal
from ..services.upload_limits import UploadLimits
from .base import api_blueprint, committed, require_actor, session

blp = api_blueprint("imports", __name__, "imports", "Bulk import of commune registers, one row per lens")


class ImportQuerySchema(StrictSchema):
    dry_run = ma.fields.Boolean(load_default=False, metadata={"description": "check and report, write nothing"})


class ImportFileSchema(ma.Schema):
    file = Upload(required=True, metadata={"description": "the register: .csv, .xlsx or .geojson"})


class EntityCountsSchema(ma.Schema):
    created = ma.fields.Integer()
    updated = ma.fields.Integer()
    unchanged = ma.fields.Integer()


class ImportReportSchema(ma.Schema):
    filename = ma.fields.String()
    dry_run = ma.fields.Boolean()
    rows = ma.fields.Integer()
    sites = ma.fields.Nested(EntityCountsSchema)
    owners = ma.fields.Nested(EntityCountsSchema)
    recorders = ma.fields.Nested(EntityCountsSchema)
    lenses = ma.fields.Nested(EntityCountsSchema)
    commitments = ma.fields.Nested(EntityCountsSchema)


def rejected(report: imports.ImportReport) -> ValidationFailed:
    """Every bad cell as `row N, column C: [reasons]`; nothing was written."""
    errors: dict[str, list[str]] = {}
    for error in report.errors:
        errors.setdefault(f"row {error.row}, column {error.column}", []).append(error.reason)
    more = (
        refusal(" (and %(count)s more not listed)", count=report.errors_not_listed) if report.errors_not_listed else ""
    )
    return ValidationFailed(
        refusal(
            "%(count)s errors in %(file)s%(more)s; nothing was imported",
            count=report.error_count,
            file=report.filename,
            more=more,
        ),
        errors,
    )


@blp.route("")
class Imports(MethodView):
    @blp.arguments(ImportQuerySchema, location="query")
    @blp.arguments(ImportFileSchema, location="files")
    @blp.response(200, ImportReportSchema)
    def post(self, query, files):
        """Import a register. Re-importing the same file changes nothing; bad rows reject the whole file (422).

        A file that would expand past the import limits (a workbook inflating past IMPORT_MAX_UNCOMPRESSED_MB
        or IMPORT_MAX_COMPRESSION_RATIO, a sheet of more than IMPORT_MAX_CELLS cells) is refused with 413, one
        of more than IMPORT_MAX_ROWS rows or nested deeper than JSON_MAX_DEPTH with 422, before it is read."""
        upload = files["file"]
        report = imports.import_register(
            session(),
            upload.stream,
            upload.filename or "register.csv",
            actor=require_actor(),
            dry_run=query["dry_run"],
            limits=UploadLimits.from_config(current_app.config),
        )
        if not report.ok:
            raise rejected(report)
        return committed(report)
