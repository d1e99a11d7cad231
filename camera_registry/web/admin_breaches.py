"""The admins' breach records, /admin/breaches: record a personal data breach, follow its 72-hour clock to the
notification to A05 (shown in Vietnam time), correct it, mark it notified and close it; and per record the
notification an officer hands in, as a printable page (linked in Vietnamese) and as JSON.

Each view parses its form, calls one service of `breaches` (which checks and audits) and renders; a refusal shows
the form again with the reason beside its field, nothing of it kept. Admins only.
"""

from __future__ import annotations

from datetime import datetime

import marshmallow as ma
from flask import Blueprint, current_app, jsonify, redirect, render_template, request, url_for
from flask_babel import force_locale, lazy_gettext

from ..http.actor import current_actor
from ..http.statuses import status_of
from ..http.units import get_session
from ..models import BreachStatus
from ..models.base import utcnow
from ..schemas.base import InputSchema
from ..services import breaches
from ..services.breaches import CATEGORY_VALUES, ClockState
from ..services.errors import DomainError
from ..timezones import LOCAL_ZONE
from .auth import signed_in
from .i18n import form_errors

blueprint = Blueprint("admin_breaches", __name__, url_prefix="/admin/breaches")

#: The kinds of personal data a record names, in words.
DATA_CATEGORIES = {
    "owner_contacts": lazy_gettext("owners' names, phone numbers, e-mail and addresses"),
    "camera_locations": lazy_gettext("where owners' cameras are and what they see"),
    "footage": lazy_gettext("footage clips owners uploaded"),
    "commitments": lazy_gettext("signed sharing commitments and their consent evidence"),
    "staff_accounts": lazy_gettext("staff accounts: names, usernames, units"),
}
BREACH_STATES = {
    BreachStatus.OPEN: lazy_gettext("not notified yet"),
    BreachStatus.NOTIFIED: lazy_gettext("notified to A05"),
    BreachStatus.CLOSED: lazy_gettext("closed"),
}
CLOCK_STATES = {
    ClockState.RUNNING: lazy_gettext("notify A05 by the deadline"),
    ClockState.OVERDUE: lazy_gettext("the 72 hours are over: notify A05 now, saying why it is late"),
    ClockState.NOTIFIED_IN_TIME: lazy_gettext("notified within 72 hours"),
    ClockState.NOTIFIED_LATE: lazy_gettext("notified after 72 hours"),
}


class LocalDateTime(ma.fields.DateTime):
    """A time typed in a datetime-local field: Vietnam time unless it names its offset."""

    def _deserialize(self, value, attr, data, **kwargs) -> datetime:
        moment = super()._deserialize(value, attr, data, **kwargs)
        return moment.replace(tzinfo=LOCAL_ZONE) if moment.tzinfo is None else moment


class _FormSchema(InputSchema):
    """A page's form: the CSRF field and the buttons are not the schema's."""

    class Meta:
        unknown = ma.EXCLUDE


class VersionedSchema(_FormSchema):
    version = ma.fields.Integer(load_default=None, validate=ma.validate.Range(min=1))


class BreachFormSchema(VersionedSchema):
    description = ma.fields.String(required=True, validate=ma.validate.Length(max=10_000))
    discovered_at = LocalDateTime(required=True)
    occurred_at = LocalDateTime(load_default=None)
    data_categories = ma.fields.List(ma.fields.String(validate=ma.validate.OneOf(CATEGORY_VALUES)), load_default=list)
    #: Owners by their register code, separated by commas, spaces or lines.
    owners = ma.fields.String(load_default="", validate=ma.validate.Length(max=10_000))
    affected_description = ma.fields.String(load_default=None, validate=ma.validate.Length(max=10_000))
    affected_count = ma.fields.Integer(load_default=None, validate=ma.validate.Range(min=0))
    likely_consequences = ma.fields.String(load_default=None, validate=ma.validate.Length(max=10_000))
    measures = ma.fields.String(load_default=None, validate=ma.validate.Length(max=10_000))

    @ma.post_load
    def _owner_codes(self, data, **kwargs):
        data["owners"] = data["owners"].replace(",", " ").split()
        return data


class NotifiedSchema(VersionedSchema):
    notified_at = LocalDateTime(required=True)
    reference = ma.fields.String(load_default=None, validate=ma.validate.Length(max=500))
    late_reason = ma.fields.String(load_default=None, validate=ma.validate.Length(max=10_000))


def _form(schema: ma.Schema) -> dict:
    """The posted form as its schema loads it, blanks dropped (a list field keeps every value)."""
    data = {key: value.strip() for key, value in request.form.items() if value.strip()}
    if "data_categories" in schema.fields:
        data["data_categories"] = request.form.getlist("data_categories")
    return schema.load(data)


def _admin():
    actor = current_actor()
    actor.require_admin()
    return actor


def _controller() -> breaches.Controller:
    return breaches.Controller(
        current_app.config["PRIVACY_CONTROLLER_NAME"], current_app.config["PRIVACY_CONTROLLER_CONTACT"]
    )


def _common() -> dict:
    return {
        "categories": DATA_CATEGORIES,
        "breach_states": BREACH_STATES,
        "clock_states": CLOCK_STATES,
        "clock_of": lambda breach: breaches.notification_clock(breach, utcnow()),
    }


def _list_page(errors: dict | None = None, form=None, status: int = 200):
    found = breaches.list_breaches(get_session(), _admin())
    return render_template(
        "admin/breaches.html", found=found, errors=errors or {}, form=form or {}, **_common()
    ), status


def _record_page(breach_id: int, errors: dict | None = None, form=None, status: int = 200):
    breach = breaches.get_breach(get_session(), _admin(), breach_id)
    return render_template(
        "admin/breaches_show.html", breach=breach, errors=errors or {}, form=form, **_common()
    ), status


def _refused(error: ma.ValidationError | DomainError) -> tuple[dict, int]:
    get_session().rollback()
    return form_errors(error), status_of(error)


@blueprint.get("")
@signed_in
def page():
    return _list_page()


@blueprint.post("")
@signed_in
def record():
    actor = _admin()
    try:
        breach = breaches.record_breach(get_session(), actor, _form(BreachFormSchema()), now=utcnow())
    except (ma.ValidationError, DomainError) as error:
        errors, status = _refused(error)
        return _list_page(errors, request.form, status)
    get_session().commit()
    return redirect(url_for("admin_breaches.show", breach_id=breach.id), code=303)


@blueprint.get("/<int:breach_id>")
@signed_in
def show(breach_id: int):
    return _record_page(breach_id)


def _change(breach_id: int, change):
    """Run one change of the record from its form; a refusal shows the record again with the reasons."""
    actor = _admin()
    try:
        change(actor)
    except (ma.ValidationError, DomainError) as error:
        errors, status = _refused(error)
        return _record_page(breach_id, errors, request.form, status)
    get_session().commit()
    return redirect(url_for("admin_breaches.show", breach_id=breach_id), code=303)


@blueprint.post("/<int:breach_id>")
@signed_in
def update(breach_id: int):
    def change(actor):
        data = _form(BreachFormSchema())
        version = data.pop("version")
        breaches.update_breach(get_session(), actor, breach_id, data, expected_version=version, now=utcnow())

    return _change(breach_id, change)


@blueprint.post("/<int:breach_id>/notified")
@signed_in
def notified(breach_id: int):
    def change(actor):
        data = _form(NotifiedSchema())
        breaches.mark_notified(
            get_session(),
            actor,
            breach_id,
            notified_at=data["notified_at"],
            reference=data["reference"],
            late_reason=data["late_reason"],
            expected_version=data["version"],
            now=utcnow(),
        )

    return _change(breach_id, change)


@blueprint.post("/<int:breach_id>/close")
@signed_in
def close(breach_id: int):
    def change(actor):
        data = _form(VersionedSchema())
        breaches.close_breach(get_session(), actor, breach_id, expected_version=data["version"], now=utcnow())

    return _change(breach_id, change)


def _report(breach_id: int) -> breaches.BreachReport:
    return breaches.breach_report(get_session(), _admin(), breach_id, controller=_controller(), now=utcnow())


@blueprint.get("/<int:breach_id>/report")
@signed_in
def report(breach_id: int):
    """The notification to A05 to print, in the page's language: the record's page links it in Vietnamese, as it is
    handed in."""
    return render_template("admin/breaches_report.html", report=_report(breach_id), **_common())


@blueprint.get("/<int:breach_id>/report.json")
@signed_in
def report_json(breach_id: int):
    """The same notification as JSON, for a portal form or the controller's own records: words in Vietnamese,
    times in Vietnam time."""
    found = _report(breach_id)
    breach, clock = found.breach, found.clock
    with force_locale("vi"):
        body = {
            "controller": {"name": found.controller.name, "contact": found.controller.contact},
            "recorded_by": found.recorded_by,
            "breach_id": breach.id,
            "description": breach.description,
            "occurred_at": _local_iso(breach.occurred_at),
            "discovered_at": _local_iso(breach.discovered_at),
            "notification_deadline": _local_iso(clock.deadline),
            "data_categories": [
                {"code": code, "name": str(DATA_CATEGORIES.get(code, code))} for code in breach.data_categories
            ],
            "affected_count": breach.affected_count,
            "affected_description": breach.affected_description,
            "affected_owners": [owner.external_id for owner in breach.owners],
            "likely_consequences": breach.likely_consequences,
            "measures": breach.measures,
            "status": breach.status.value,
            "notified_at": _local_iso(breach.notified_at),
            "notification_reference": breach.notification_reference,
            "late_reason": breach.late_reason,
        }
    response = jsonify(body)
    response.headers["Content-Disposition"] = f'attachment; filename="breach-{breach.id}-a05.json"'
    return response


def _local_iso(moment: datetime | None) -> str | None:
    return moment.astimezone(LOCAL_ZONE).isoformat() if moment else None
