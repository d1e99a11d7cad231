"""The figures page: services.stats' table for the reader's reach over a period, one row per unit of a level,
with the CSV and XLSX downloads of the same table (the API's /api/v1/stats/admin-units, with the same filters).

Every signed-in role may read it: each sees only the communes of their reach, as in the API.
"""

from __future__ import annotations

from datetime import timedelta

import marshmallow as ma
from flask import Blueprint, render_template, request
from flask_babel import lazy_gettext

from ..http.actor import current_actor
from ..http.figures import LEVELS, PAGE_COLUMNS
from ..http.language import current_language
from ..http.statuses import status_of
from ..http.units import get_session
from ..models import AdminLevel
from ..schemas.base import InputSchema
from ..services import stats
from ..services.errors import DomainError
from ..timezones import LOCAL_ZONE, local_today
from .auth import signed_in
from .i18n import form_errors

blueprint = Blueprint("figures", __name__)

STATS_URL = "/api/v1/stats/admin-units"


class FiguresQuerySchema(InputSchema):
    """The page's filters, from its query string; blanks are the defaults (communes, the last 30 days)."""

    class Meta:
        unknown = ma.EXCLUDE

    start = ma.fields.Date(data_key="from", load_default=None)
    end = ma.fields.Date(data_key="to", load_default=None)
    level = ma.fields.Enum(AdminLevel, by_value=True, load_default=AdminLevel.COMMUNE)
    parent = ma.fields.String(load_default=None, validate=ma.validate.Length(max=20))


def _presets() -> list[tuple[str, dict]]:
    """The period buttons: (label, {from, to}) with `to` the day after the period, as the API reads it."""
    today = local_today()
    month = today.replace(day=1)
    last_month = (month - timedelta(days=1)).replace(day=1)
    return [
        (lazy_gettext("This month"), {"from": month, "to": today + timedelta(days=1)}),
        (lazy_gettext("Last month"), {"from": last_month, "to": month}),
        (lazy_gettext("Last 30 days"), {"from": today - timedelta(days=29), "to": today + timedelta(days=1)}),
        (lazy_gettext("This year"), {"from": today.replace(month=1, day=1), "to": today + timedelta(days=1)}),
    ]


@blueprint.get("/figures")
@signed_in
def page():
    asked = {key: value.strip() for key, value in request.args.items() if value.strip()}  # `lang` too: links keep it
    context = {"asked": asked, "columns": PAGE_COLUMNS, "levels": LEVELS, "presets": _presets()}
    try:
        query = FiguresQuerySchema().load(asked)
        report = stats.unit_figures(
            get_session(),
            current_actor(),
            first=query["start"],
            end=query["end"],
            parent_code=query["parent"],
            level=query["level"],
        )
    except (ma.ValidationError, DomainError) as error:
        return render_template("figures.html", **context, errors=form_errors(error)), status_of(error)
    first, end = (moment.astimezone(LOCAL_ZONE).date() for moment in (report.period.start, report.period.end))
    filters = {
        "from": first.isoformat(),
        "to": end.isoformat(),
        "level": report.level.value,
        "lang": current_language(),
    }
    if report.parent_code:
        filters["parent"] = report.parent_code
    return render_template(
        "figures.html",
        **context,
        errors={},
        report=report,
        first=first,
        last=end - timedelta(days=1),
        filters=filters,
        stats_url=STATS_URL,
    )
