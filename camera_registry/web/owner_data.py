"""The owner's personal data page, /o/<token>/data: file a request to see, correct, restrict or delete their data,
follow the requests filed, and read the export of a completed access request.

On the owner blueprint (web/owner.py), so these routes share its rate limit, its CSRF-expired and too-many pages
and its no-store headers. Any link of the owner's that still shows its page opens this one.
"""

from __future__ import annotations

from datetime import datetime

import marshmallow as ma
from flask import Flask, jsonify, redirect, render_template, request, url_for
from marshmallow import validate

from ..http.statuses import status_of
from ..http.units import get_session
from ..models import AssignmentStatus, SubjectRequestKind
from ..models.base import utcnow
from ..schemas.base import InputSchema
from ..services import subject_requests
from ..services.errors import DomainError
from ..timezones import local_time
from . import labels
from .i18n import field_name, form_errors
from .owner import STATE_STATUS, blueprint, page_language


class DataRequestSchema(InputSchema):
    kind = ma.fields.Enum(SubjectRequestKind, by_value=True, required=True)
    details = ma.fields.String(load_default="", validate=validate.Length(max=subject_requests.DETAILS_MAX_LENGTH))

    class Meta:
        unknown = ma.EXCLUDE  # the CSRF token


def _page(token: str, errors: dict | None = None, status: int | None = None):
    session = get_session()
    page = subject_requests.live_link_page(session, token, page_language(token), utcnow())
    if not subject_requests.link_acts(page):
        return render_template("owner/dead.html", page=page, token=token), STATE_STATUS[page.state]
    owner_requests = subject_requests.owner_requests(session, page.link.owner_id)
    return render_template(
        "owner/data.html",
        page=page,
        token=token,
        requests=owner_requests,
        kinds=[kind.value for kind in SubjectRequestKind],
        filed=request.args.get("filed", type=int),
        errors=errors or {},
        now=utcnow(),
    ), status or 200


@blueprint.get("/<token>/data")
def data_page(token: str):
    return _page(token)


@blueprint.post("/<token>/data")
def file_data_request(token: str):
    session = get_session()
    form = {key: value.strip() for key, value in request.form.items() if value.strip()}
    try:
        filed = subject_requests.file_by_owner(session, token, **DataRequestSchema().load(form))
    except (ma.ValidationError, DomainError) as error:
        session.rollback()
        return _page(token, form_errors(error), status_of(error))
    session.commit()
    return redirect(url_for(".data_page", token=token, filed=filed.id), code=303)


@blueprint.get("/<token>/data/<int:request_id>/export")
def data_export(token: str, request_id: int):
    """The export as a page in the owner's language, or as JSON with ?format=json."""
    export = subject_requests.export_for_owner(get_session(), token, request_id)
    page_language(token)  # the page in the owner's language, as their link's page
    if request.args.get("format") == "json":
        response = jsonify(export)
        response.headers["Content-Disposition"] = f'attachment; filename="personal-data-{request_id}.json"'
        return response
    return render_template(
        "owner/data_export.html",
        export=export,
        token=token,
        request_id=request_id,
        labels=labels,
        assignment_status=lambda value: labels.ASSIGNMENT_STATUSES[AssignmentStatus(value)],
        moment=lambda iso, pattern="%d/%m/%Y %H:%M": local_time(datetime.fromisoformat(iso), pattern),
        reader=_reader,
    )


def _reader(actor_label: str) -> str:
    """Who read the contacts, as the export names them: their kind in words, and their account."""
    kind, _, who = actor_label.partition(":")
    return f"{field_name(kind)} {who}".strip()


def init_app(app: Flask) -> None:
    """Nothing to set up: importing this module put its routes on the owner blueprint, which owner.init_app
    registers (call this before it)."""
