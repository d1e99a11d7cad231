"""Police pages: their commune's requests, a map to open one, and a page per request.

Views parse the form with the API's schemas, call one service and render;
staff of the supervising units see the same pages read-only.
"""
from __future__ import annotations

import json
from functools import wraps

import marshmallow as ma
from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from geoalchemy2.shape import to_shape
from shapely.geometry import mapping

from ..api.errors import status_of
from ..api.requests import POLICE_ACTIONS, AssignmentActionSchema, FootageRequestCreateSchema, VersionSchema
from ..models import ASSIGNMENT_TRANSITIONS, REQUEST_TRANSITIONS, Role, allowed_actions
from ..services import requests
from ..services.errors import DomainError, PermissionDenied
from ..services.upload_limits import TooDeep, load_json
from . import get_session
from .auth import current_actor
from ..timezones import LOCAL_OFFSET

blueprint = Blueprint("police", __name__, url_prefix="/requests")


def signed_in(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        if current_actor() is None:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapper


def _form_data(schema: ma.Schema, local_times: tuple[str, ...] = ()) -> dict:
    """The posted form as the API schema expects it: blanks dropped, local times given their offset."""
    data = {key: value.strip() for key, value in request.form.items() if key in schema.fields and value.strip()}
    for key in local_times:
        if key in data:
            data[key] = f"{data[key]}:00{LOCAL_OFFSET}" if len(data[key]) == 16 else f"{data[key]}{LOCAL_OFFSET}"
    if "incident" in data:
        try:
            data["incident"] = load_json(data["incident"], current_app.config["JSON_MAX_DEPTH"])
        except TooDeep as error:
            raise ma.ValidationError({"incident": [f"the geometry is {error}"]}) from None
        except ValueError:
            raise ma.ValidationError({"incident": ["draw the incident on the map"]}) from None
    if "draft" in data:
        data["draft"] = data["draft"] == "1"
    return schema.load(data)


@blueprint.get("")
@signed_in
def index():
    lines = requests.list_requests(get_session(), current_actor(), page=1, page_size=200)
    return render_template("requests/index.html", lines=lines.items, total=lines.total,
                           may_file=current_actor().role == Role.COMMUNE_POLICE)


@blueprint.route("/new", methods=["GET", "POST"])
@signed_in
def new():
    actor = current_actor()
    if actor.role != Role.COMMUNE_POLICE:
        raise PermissionDenied("footage requests are filed by commune police")
    errors: dict = {}
    status = 200
    if request.method == "POST":
        try:
            created = requests.open_request(get_session(), actor, **_form_data(
                FootageRequestCreateSchema(), ("window_start", "window_end", "deadline")),
                public_base_url=current_app.config["PUBLIC_BASE_URL"])
            get_session().commit()
            return redirect(url_for("police.show", request_id=created.id), code=303)
        except ma.ValidationError as error:
            errors, status = error.messages, 422
        except DomainError as error:  # the status from the one table (api/errors.py), as for the API
            get_session().rollback()
            errors, status = error.errors or {"_": [error.message]}, status_of(error)
    commune, boundary = requests.commune_of(get_session(), actor)
    return render_template("requests/new.html", errors=errors, form=request.form, commune=commune,
                           boundary=json.dumps(mapping(boundary) if boundary else None)), status


@blueprint.get("/<int:request_id>")
@signed_in
def show(request_id: int):
    return _render_request(requests.request_page(get_session(), current_actor(), request_id))


def _render_request(page: requests.RequestPage, errors: dict | None = None, status: int = 200):
    features = {
        "incident": mapping(to_shape(page.request.incident)),
        "boundary": mapping(page.commune_boundary) if page.commune_boundary else None,
        "lenses": [
            {"point": mapping(to_shape(item.lens.point)), "bearing": item.lens.bearing_deg,
             "fov": item.lens.fov_deg, "range": item.lens.range_m, "rank": assignment.rank, "distance": item.distance_m}
            for assignment in page.request.assignments for item in assignment.lenses
        ],
        "radius": page.request.radius_m,
    }
    return render_template("requests/show.html", page=page, r=page.request, features=json.dumps(features),
                           errors=errors or {}, police_actions=POLICE_ACTIONS, transitions=ASSIGNMENT_TRANSITIONS,
                           allowed=allowed_actions(REQUEST_TRANSITIONS, page.request.status)), status


@blueprint.post("/<int:request_id>/cancel")
@signed_in
def cancel(request_id: int):
    return _act(request_id, lambda session, actor, data: requests.cancel_request(
        session, actor, request_id, expected_version=data["version"], note=data["note"]), VersionSchema())


@blueprint.post("/<int:request_id>/assignments/<int:assignment_id>/<any(consent, decline, report_no_footage, "
                "receive_footage, close):action>")
@signed_in
def act(request_id: int, assignment_id: int, action: str):
    return _act(request_id, lambda session, actor, data: requests.act_on_assignment(
        session, actor, assignment_id, action, expected_version=data.pop("version"), **data), AssignmentActionSchema())


def _act(request_id: int, change, schema: ma.Schema):
    """Apply one change from a form; on refusal show the request again, as it is stored now, with the reason
    and the status of the one table (409 for a stale version, a concurrent answer or an illegal step)."""
    session, actor = get_session(), current_actor()
    try:
        change(session, actor, _form_data(schema))
        session.commit()
        return redirect(url_for("police.show", request_id=request_id), code=303)
    except ma.ValidationError as error:
        errors, status = error.messages, 422
    except DomainError as error:
        if isinstance(error, PermissionDenied):
            abort(403, error.message)
        errors, status = {**error.errors, "_": [error.message]}, status_of(error)
    session.rollback()
    page = requests.request_page(session, actor, request_id)
    session.commit()
    return _render_request(page, errors, status)
