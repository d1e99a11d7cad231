"""/api/v1/stats/admin-units: figures per commune, district or province as JSON, CSV or XLSX."""

from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView
from marshmallow import validate

from ..http.figures import COLUMNS, level_label, sheet_title
from ..models import AdminLevel
from ..schemas.base import StrictSchema
from ..services import stats
from ..timezones import LOCAL_ZONE
from .base import api_blueprint, require_actor, session
from .schemas import BINARY_BODY, TEXT_BODY
from .tables import CSV, FORMATS, XLSX, requested_format, table_response

blp = api_blueprint("stats", __name__, "stats", "Figures per administrative unit (reach-filtered)")

UNIT_FIELDS = ("code", "name", "level", "parent_code")


class _UnitSchema(ma.Schema):
    code = ma.fields.String()
    name = ma.fields.String()
    level = ma.fields.Enum(AdminLevel, by_value=True)
    parent_code = ma.fields.String(allow_none=True)

    def get_attribute(self, obj, attr, default):
        return super().get_attribute(obj if attr in UNIT_FIELDS else obj.figures, attr, default)


#: Each kind of figure's field; counts are integers.
FIELD_KINDS = {
    "rate": lambda: ma.fields.Float(allow_none=True),
    "number": lambda: ma.fields.Float(allow_none=True),
    "flag": ma.fields.Boolean,
    "moment": lambda: ma.fields.AwareDateTime(allow_none=True),
}

#: One unit's row: the unit, then every figure of COLUMNS, read from its tally.
UnitFiguresSchema = type(
    "UnitFiguresSchema",
    (_UnitSchema,),
    {
        column.name: FIELD_KINDS.get(column.kind, ma.fields.Integer)()
        for column in COLUMNS
        if column.name not in UNIT_FIELDS
    },
)


class FiguresReportSchema(ma.Schema):
    level = ma.fields.Enum(AdminLevel, by_value=True)
    parent_code = ma.fields.String(allow_none=True)
    start = ma.fields.Function(
        lambda report: report.period.start.astimezone(LOCAL_ZONE).date().isoformat(), data_key="from"
    )
    end = ma.fields.Function(lambda report: report.period.end.astimezone(LOCAL_ZONE).date().isoformat(), data_key="to")
    as_of = ma.fields.AwareDateTime(metadata={"description": "the moment the registry figures describe"})
    rows = ma.fields.Nested(UnitFiguresSchema, many=True)


class StatsQuerySchema(StrictSchema):
    parent = ma.fields.String(metadata={"description": "code of a unit: only the communes below it"})
    level = ma.fields.Enum(
        AdminLevel,
        by_value=True,
        load_default=AdminLevel.COMMUNE,
        metadata={"description": "one row per unit of this level"},
    )
    start = ma.fields.Date(
        data_key="from",
        load_default=None,
        metadata={"description": "first day (Vietnam time) of the request period; default 30 days before `to`"},
    )
    end = ma.fields.Date(
        data_key="to", load_default=None, metadata={"description": "day after the period (exclusive); default tomorrow"}
    )
    format = ma.fields.String(
        validate=validate.OneOf(list(FORMATS)),
        load_default=None,
        metadata={"description": "json, csv or xlsx; else chosen by the Accept header"},
    )


@blp.route("/admin-units")
class AdminUnitFigures(MethodView):
    @blp.arguments(StatsQuerySchema, location="query")
    @blp.response(200, FiguresReportSchema)
    @blp.alt_response(
        200,
        success=True,
        content_type=CSV,
        schema=TEXT_BODY,
        description="the figures; the rows as CSV (format=csv) or an XLSX workbook (format=xlsx)",
    )
    @blp.alt_response(
        200,
        success=True,
        content_type=XLSX,
        schema=BINARY_BODY,
        description="the figures; the rows as CSV (format=csv) or an XLSX workbook (format=xlsx)",
    )
    def get(self, query):
        """Figures for the current communes in your reach, one row per unit of `level`, rolled up by sums.

        Registry figures describe now; request figures the requests opened in [from, to)."""
        report = stats.unit_figures(
            session(),
            require_actor(),
            first=query["start"],
            end=query["end"],
            parent_code=query.get("parent"),
            level=query["level"],
        )
        table_format = requested_format(query["format"])
        if table_format == "json":
            return report
        rows = UnitFiguresSchema(many=True).dump(report.rows)
        if table_format == "xlsx":  # people read the workbook; the CSV keeps the levels' codes for scripts
            rows = [{**row, "level": level_label(row["level"])} for row in rows]
        name = f"so-lieu-{report.level.value}-{report.parent_code or 'tat-ca'}"
        first, end = (moment.astimezone(LOCAL_ZONE).date() for moment in (report.period.start, report.period.end))
        return table_response(COLUMNS, rows, name, table_format, sheet_title(first, end))
