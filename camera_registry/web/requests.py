"""Police pages: their commune's requests, a map to open one (with its place search and the commune's lenses),
and a page per request.

Views parse the form with the schemas the API reads too (camera_registry.schemas), call one service and
render; a refusal answers the status of the one table (camera_registry.http.statuses), as in the API.
Staff of the supervising units see the same pages read-only.
"""

from __future__ import annotations

import json

import marshmallow as ma
from flask import Blueprint, Response, current_app, jsonify, redirect, render_template, request, send_file, url_for
from flask_babel import gettext, lazy_gettext
from geoalchemy2.shape import to_shape
from shapely.geometry import mapping

from ..http.actor import csrf, current_actor, require_csrf_for_cookie_auth
from ..http.messages import translated_errors
from ..http.statuses import status_of
from ..http.units import get_session, reads_then_writes
from ..models import ASSIGNMENT_TRANSITIONS, REQUEST_TRANSITIONS, Role, allowed_actions
from ..schemas.base import InputSchema
from ..schemas.requests import POLICE_ACTIONS, AssignmentActionSchema, FootageRequestCreateSchema, VersionSchema
from ..services import evidence, places, request_views, requests, uploads
from ..services.coordinates import QueryProblem
from ..services.errors import DomainError, NotAuthenticated, PermissionDenied
from ..services.messages import refusal
from ..services.places import PlaceKind
from ..services.upload_limits import TooDeep, load_json
from ..timezones import LOCAL_OFFSET
from . import labels, tus
from .auth import signed_in

blueprint = Blueprint("police", __name__, url_prefix="/requests")


def _form_data(schema: ma.Schema, local_times: tuple[str, ...] = ()) -> dict:
    """The posted form as its schema expects it: blanks dropped, local times given their offset."""
    data = {key: value.strip() for key, value in request.form.items() if key in schema.fields and value.strip()}
    for key in local_times:
        if key in data:
            data[key] = f"{data[key]}:00{LOCAL_OFFSET}" if len(data[key]) == 16 else f"{data[key]}{LOCAL_OFFSET}"
    if "incident" in data:
        try:
            data["incident"] = load_json(data["incident"], current_app.config["JSON_MAX_DEPTH"])
        except TooDeep as error:
            raise ma.ValidationError(
                {"incident": [refusal("the geometry is %(reason)s", reason=error.args[0])]}
            ) from None
        except ValueError:
            raise ma.ValidationError({"incident": [refusal("draw the incident on the map")]}) from None
    if "draft" in data:
        data["draft"] = data["draft"] == "1"
    return schema.load(data)


@blueprint.get("")
@signed_in
def index():
    lines = requests.list_requests(get_session(), current_actor(), page=1, page_size=200)
    return render_template(
        "requests/index.html",
        lines=lines.items,
        total=lines.total,
        may_file=current_actor().role == Role.COMMUNE_POLICE,
        labels=labels,
    )


def _filing_officer():
    """The signed-in commune police officer: only they file requests, and so use the new request's map."""
    actor = current_actor()
    if actor.role != Role.COMMUNE_POLICE:
        raise PermissionDenied(refusal("footage requests are filed by commune police"))
    return actor


@blueprint.route("/new", methods=["GET", "POST"])
@signed_in
def new():
    actor = _filing_officer()
    errors: dict = {}
    status = 200
    if request.method == "POST":
        try:
            created = requests.open_request(
                get_session(),
                actor,
                **_form_data(FootageRequestCreateSchema(), ("window_start", "window_end", "deadline")),
                public_base_url=current_app.config["PUBLIC_BASE_URL"],
                max_area_km2=current_app.config["AREA_REQUEST_MAX_KM2"],
            )
            get_session().commit()
            return redirect(url_for("police.show", request_id=created.id), code=303)
        except ma.ValidationError as error:
            errors, status = translated_errors(error.messages), status_of(error)
        except DomainError as error:
            get_session().rollback()
            errors, status = translated_errors(error.errors or {"_": [error.message]}), status_of(error)
    commune, boundary = request_views.commune_of(get_session(), actor)
    return render_template(
        "requests/new.html",
        errors=errors,
        form=request.form,
        commune=commune,
        boundary=json.dumps(mapping(boundary) if boundary else None),
    ), status


class PlaceSearchSchema(InputSchema):
    """The place search's query string."""

    class Meta:
        unknown = ma.EXCLUDE

    q = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=places.MAX_QUERY_LENGTH))
    limit = ma.fields.Integer(
        load_default=places.DEFAULT_RESULTS, validate=ma.validate.Range(min=1, max=places.MAX_RESULTS)
    )


#: What each kind of place is, as the result list says it.
PLACE_KINDS = {
    PlaceKind.COORDINATES: lazy_gettext("Coordinates"),
    PlaceKind.COMMUNE: lazy_gettext("Commune or ward"),
    PlaceKind.SITE: lazy_gettext("Programme site"),
    PlaceKind.ADDRESS: lazy_gettext("Camera owner's address"),
    PlaceKind.RECORDER: lazy_gettext("Recorder"),
    PlaceKind.LENS: lazy_gettext("Camera lens"),
}


@blueprint.get("/new/places")
@signed_in
def find_place():
    """What the new request's search box finds, as JSON; text it cannot use is a 422 naming `q`, translated."""
    actor = _filing_officer()
    try:
        query = PlaceSearchSchema().load(request.args)
        found = places.search_places(get_session(), actor, query["q"], query["limit"])
    except ma.ValidationError as error:
        return jsonify(errors=translated_errors(error.messages)), status_of(error)
    except QueryProblem as problem:
        return jsonify(errors={"q": [gettext(problem.template, **problem.values)]}), status_of(problem)
    return jsonify(
        places=[
            {
                "kind": place.kind.value,
                "what": str(PLACE_KINDS[place.kind]),
                "label": place.label,
                "commune": place.commune,
                "point": [round(place.point[0], 7), round(place.point[1], 7)] if place.point else None,
                "bounds": place.bounds,
            }
            for place in found
        ]
    )


@blueprint.get("/new/lenses")
@signed_in
def reach_lenses():
    """The active lenses of the officer's commune for the new request's map: [lon, lat, bearing, fov, range]."""
    found = places.reach_lenses(get_session(), _filing_officer())
    return jsonify(
        lenses=[
            [round(lens.lon, 7), round(lens.lat, 7), lens.bearing_deg, lens.fov_deg, lens.range_m]
            for lens in found.lenses
        ],
        truncated=found.truncated,
    )


@blueprint.get("/<int:request_id>")
@signed_in
def show(request_id: int):
    return _render_request(request_views.request_page(get_session(), current_actor(), request_id))


def _render_request(page: request_views.RequestPage, errors: dict | None = None, status: int = 200):
    features = {
        "incident": mapping(to_shape(page.request.incident)),
        "boundary": mapping(page.commune_boundary) if page.commune_boundary else None,
        "lenses": [
            {
                "point": mapping(to_shape(item.lens.point)),
                "bearing": item.lens.bearing_deg,
                "fov": item.lens.fov_deg,
                "range": item.lens.range_m,
                "rank": assignment.rank,
                "distance": item.distance_m,
            }
            for assignment in page.request.assignments
            for item in assignment.lenses
        ],
        "radius": page.request.radius_m,
    }
    actor = current_actor()
    may_download = actor.is_admin or actor.role == Role.COMMUNE_POLICE
    fingerprint = (
        evidence.key_fingerprint(evidence.public_key_pem(tus.clip_settings().signing_key_path))
        if may_download and page.clips
        else ""
    )
    return render_template(
        "requests/show.html",
        page=page,
        r=page.request,
        features=json.dumps(features),
        errors=errors or {},
        police_actions=POLICE_ACTIONS,
        transitions=ASSIGNMENT_TRANSITIONS,
        allowed=allowed_actions(REQUEST_TRANSITIONS, page.request.status),
        may_download=may_download,
        key_fingerprint=fingerprint,
        upload_messages={key: str(message) for key, message in POLICE_UPLOAD_MESSAGES.items()},
        upload_chunk_bytes=tus.CLIENT_CHUNK_BYTES,
        labels=labels,
    ), status


#: The officers' upload widget's words (clip-upload.js), in the page's language; "%(percent)s" and "%(size)s" are
#: left for the script to fill in.
POLICE_UPLOAD_MESSAGES = {
    "choose_file": lazy_gettext("Choose the video file first."),
    "clock_needed": lazy_gettext("Type the time your recorder shows now, or tick that its clock is correct."),
    "too_large": lazy_gettext("The file is larger than the upload limit."),
    "uploading": lazy_gettext("Uploading: %(percent)s of %(size)s."),
    "paused": lazy_gettext("Paused. Press Continue to go on from where it stopped."),
    "offline": lazy_gettext(
        "The connection dropped. The upload goes on by itself when the network is back; nothing sent is lost."
    ),
    "resuming": lazy_gettext("The network is back: continuing the upload."),
    "failed": lazy_gettext("The upload stopped. Press Continue to try again from where it stopped."),
    "done": lazy_gettext("The copy is stored."),
    "status_403": lazy_gettext("This assignment takes no more footage."),
    "status_410": lazy_gettext("This upload can no longer be continued. Please start it again."),
    "status_413": lazy_gettext("The file is larger than the upload limit."),
    "status_415": lazy_gettext("This file type is not accepted (only videos or recorder exports)."),
    "status_400": lazy_gettext("Please check the recorder's time and try again."),
}


@blueprint.post("/<int:request_id>/cancel")
@signed_in
def cancel(request_id: int):
    return _act(
        request_id,
        lambda session, actor, data: requests.cancel_request(
            session, actor, request_id, expected_version=data["version"], note=data["note"]
        ),
        VersionSchema(),
    )


@blueprint.post(
    "/<int:request_id>/assignments/<int:assignment_id>/<any(consent, decline, report_no_footage, "
    "receive_footage, close):action>"
)
@signed_in
def act(request_id: int, assignment_id: int, action: str):
    def step(session, actor, data):
        return requests.act_on_assignment(
            session, actor, assignment_id, action, request_id=request_id, expected_version=data.pop("version"), **data
        )

    return _act(request_id, step, AssignmentActionSchema())


def _act(request_id: int, change, schema: ma.Schema):
    """Apply one change from a form; on refusal show the request again, as it is stored now, with the reason
    and the status of the one table (409 for a stale version, a concurrent answer or an illegal step)."""
    session, actor = get_session(), current_actor()
    try:
        change(session, actor, _form_data(schema))
        session.commit()
        return redirect(url_for("police.show", request_id=request_id), code=303)
    except ma.ValidationError as error:
        errors, status = translated_errors(error.messages), status_of(error)
    except PermissionDenied:
        raise  # not this reader's to change: the plain page of a refusal, not the request again
    except DomainError as error:
        errors, status = translated_errors({**error.errors, "_": [error.message]}), status_of(error)
    session.rollback()
    page = request_views.request_page(session, actor, request_id)
    session.commit()
    return _render_request(page, errors, status)


# --------------------------------------------------------------------------- footage: downloads, officers' copies,
# evidence packages. A download and a package stream from the clip store; each is audited after its read.


@blueprint.get("/<int:request_id>/clips/<int:clip_id>")
@signed_in
def download_clip(request_id: int, clip_id: int):
    """The original clip, streamed, with Range support; always an attachment, never shown in the browser."""
    download = evidence.clip_download(
        get_session(),
        current_actor(),
        request_id,
        clip_id,
        storage_dir=tus.clip_settings().storage_dir,
        byte_range=request.headers.get("Range"),
    )
    response = send_file(
        download.path,
        mimetype=download.clip.content_type,
        as_attachment=True,
        download_name=download.clip.original_name,
        conditional=True,
        etag=download.clip.sha256,
        max_age=0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Clip-SHA256"] = download.clip.sha256
    return response


@blueprint.get("/<int:request_id>/evidence.zip", defaults={"assignment_id": None})
@blueprint.get("/<int:request_id>/assignments/<int:assignment_id>/evidence.zip")
@signed_in
def evidence_package(request_id: int, assignment_id: int | None):
    """The signed evidence package (ZIP), written to the client as it is built."""
    settings = tus.clip_settings()
    package = evidence.build_package(
        get_session(),
        current_actor(),
        request_id,
        assignment_id=assignment_id,
        storage_dir=settings.storage_dir,
        key_path=settings.signing_key_path,
    )
    response = Response(evidence.stream_package(package), mimetype="application/zip")
    response.headers["Content-Disposition"] = f'attachment; filename="{package.name}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


@blueprint.get("/evidence-key.pem")
@signed_in
def evidence_public_key():
    """The public key that signs evidence packages, for verifiers to pin (`evidence verify --public-key`)."""
    pem = evidence.public_key_pem(tus.clip_settings().signing_key_path)
    response = Response(pem, mimetype="application/x-pem-file")
    response.headers["Content-Disposition"] = 'attachment; filename="camera-registry-evidence-key.pem"'
    return response


def _police_intake(request_id: int, assignment_id: int):
    def intake():
        actor = current_actor()
        if actor is None:
            raise NotAuthenticated(refusal("sign in to upload footage"))
        require_csrf_for_cookie_auth()  # the session cookie is ambient: X-CSRFToken on writes, as for the API
        return uploads.police_intake(get_session(), actor, assignment_id, request_id=request_id)

    return intake


@blueprint.route("/<int:request_id>/assignments/<int:assignment_id>/uploads", methods=["OPTIONS"])
@csrf.exempt
@tus.tus_view
def tus_options(request_id: int, assignment_id: int):
    return tus.options()


@blueprint.route("/<int:request_id>/assignments/<int:assignment_id>/uploads", methods=["POST"])
@csrf.exempt  # checked on the header (X-CSRFToken) for cookie sessions; tus requests are not forms
@tus.tus_view
def tus_create(request_id: int, assignment_id: int):
    return tus.create(
        _police_intake(request_id, assignment_id),
        lambda upload_id: url_for(
            ".tus_status", request_id=request_id, assignment_id=assignment_id, upload_id=upload_id
        ),
    )


@blueprint.route("/<int:request_id>/assignments/<int:assignment_id>/uploads/<upload_id>", methods=["HEAD"])
@csrf.exempt
@tus.tus_view
def tus_status(request_id: int, assignment_id: int, upload_id: str):
    return tus.status(_police_intake(request_id, assignment_id), upload_id)


@blueprint.route("/<int:request_id>/assignments/<int:assignment_id>/uploads/<upload_id>", methods=["PATCH"])
@csrf.exempt
@reads_then_writes  # the bytes stream with no transaction open
@tus.tus_view
def tus_append(request_id: int, assignment_id: int, upload_id: str):
    return tus.append(_police_intake(request_id, assignment_id), upload_id)


@blueprint.route("/<int:request_id>/assignments/<int:assignment_id>/uploads/<upload_id>", methods=["DELETE"])
@csrf.exempt
@tus.tus_view
def tus_terminate(request_id: int, assignment_id: int, upload_id: str):
    return tus.terminate(_police_intake(request_id, assignment_id), upload_id)
