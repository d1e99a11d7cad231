"""The data-subject requests page, /admin/subject-requests: owners' requests to see, correct, restrict or delete
their data, the soonest due first, with their clocks (an overdue one flagged) and the steps a request allows now.

For administrators and the police of the owner's commune (services/subject_requests.py checks); anyone else
signed in gets the 403 page. Each step is a CSRF-checked form posting to /admin/subject-requests/<id>/<step>.
"""

from __future__ import annotations

import marshmallow as ma
from flask import Blueprint, redirect, render_template, request, url_for
from marshmallow import validate

from ..http.actor import current_actor
from ..http.statuses import status_of
from ..http.units import get_session
from ..models import SUBJECT_REQUEST_TRANSITIONS, allowed_actions
from ..models.base import utcnow
from ..schemas.base import InputSchema
from ..services import subject_requests
from ..services.errors import DomainError
from .auth import signed_in
from .i18n import form_errors

blueprint = Blueprint("admin_subject_requests", __name__, url_prefix="/admin/subject-requests")

REQUESTS_PER_PAGE = 50


class StepSchema(InputSchema):
    """One step's form: what each step takes (checked again by the service), blanks left out."""

    class Meta:
        unknown = ma.EXCLUDE  # the CSRF token

    version = ma.fields.Integer(load_default=None, validate=validate.Range(min=1))
    days = ma.fields.Integer(load_default=None, validate=validate.Range(min=1, max=subject_requests.MAX_EXTENSION_DAYS))
    reason = ma.fields.String(load_default="", validate=validate.Length(max=2000))
    note = ma.fields.String(load_default=None, validate=validate.Length(max=2000))
    name = ma.fields.String(validate=validate.Length(min=1, max=200))
    phone = ma.fields.String(validate=validate.Length(max=32))
    email = ma.fields.Email()
    address = ma.fields.String(validate=validate.Length(max=500))


def _page(errors: dict | None = None, status: int = 200, failed: int | None = None):
    page = request.args.get("page", 1, type=int) or 1
    found = subject_requests.list_requests(
        get_session(), current_actor(), page=max(page, 1), page_size=REQUESTS_PER_PAGE
    )
    return render_template(
        "admin/subject_requests.html",
        found=found,
        page=page,
        pages=-(-found.total // REQUESTS_PER_PAGE),
        now=utcnow(),
        steps=lambda item: allowed_actions(SUBJECT_REQUEST_TRANSITIONS, item.status),
        errors=errors or {},
        failed=failed,
        done=request.args.get("done", type=int),
    ), status


@blueprint.get("")
@signed_in
def page():
    return _page()


@blueprint.post("/<int:request_id>/<any(acknowledge, extend, refuse, complete):step>")
@signed_in
def act(request_id: int, step: str):
    session = get_session()
    actor = current_actor()
    form = {key: value.strip() for key, value in request.form.items() if value.strip()}
    try:
        data = StepSchema().load(form)
        version = data.pop("version")
        if step == "acknowledge":
            subject_requests.acknowledge(session, actor, request_id, expected_version=version)
        elif step == "extend":
            days = data["days"] or 0
            subject_requests.extend(session, actor, request_id, days, data["reason"], expected_version=version)
        elif step == "refuse":
            subject_requests.refuse(session, actor, request_id, data["reason"], expected_version=version)
        else:
            changes = {name: data[name] for name in subject_requests.CORRECTABLE_FIELDS if name in data}
            subject_requests.complete(
                session, actor, request_id, note=data["note"], changes=changes, expected_version=version
            )
    except (ma.ValidationError, DomainError) as error:
        session.rollback()
        return _page(form_errors(error), status_of(error), failed=request_id)
    session.commit()
    return redirect(url_for(".page", done=request_id), code=303)
