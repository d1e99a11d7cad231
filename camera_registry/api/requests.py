"""/api/v1/footage-requests and /api/v1/assignments: police requests, routing and answers.

Every step may name the `version` it saw. A stale version, a change made by
someone else at the same moment, or a step the state does not allow answers
409 (stale_version / illegal_transition) with `current`: the version and
status stored now."""

from __future__ import annotations

import marshmallow as ma
from flask import current_app
from flask.views import MethodView
from flask_smorest.fields import Upload

from ..models import (
    ASSIGNMENT_TRANSITIONS,
    REQUEST_TRANSITIONS,
    AssignmentStatus,
    Handover,
    RequestStatus,
    allowed_actions,
)
from ..schemas.base import StrictSchema
from ..schemas.fields import GeoJSONGeometry
from ..schemas.requests import POLICE_ACTIONS, AssignmentActionSchema, FootageRequestCreateSchema, VersionSchema
from ..services import request_views, requests, tracks
from ..services.routing import INCIDENT_KINDS
from ..services.workflow import outcome
from .base import api_blueprint, committed, page_of, paginate, require_actor, session
from .schemas import DeliverySchema
from .versions import ConflictErrorSchema

requests_blp = api_blueprint(
    "footage_requests",
    __name__,
    "footage-requests",
    "Footage requests: one incident, routed to the owners whose lenses could have seen it",
)
assignments_blp = api_blueprint(
    "assignments", __name__, "assignments", "Assignments: the part of a request routed to one owner"
)

STEP_CONFLICT = (
    "Conflict: a stale version or a change by someone else at the same moment (stale_version), or a step "
    "the state does not allow (illegal_transition); `current` has the version and status stored now"
)


class AssignmentLensSchema(ma.Schema):
    lens_id = ma.fields.Integer()
    recorder_id = ma.fields.Integer()
    distance_m = ma.fields.Float()
    preservation_deadline = ma.fields.AwareDateTime()
    partially_overwritten = ma.fields.Boolean()
    window_start = ma.fields.Function(
        lambda item: item.asked_window[0].isoformat(),
        metadata={"description": "the footage asked of this lens: its own window on a timed route, else the request's"},
    )
    window_end = ma.fields.Function(lambda item: item.asked_window[1].isoformat())
    point = GeoJSONGeometry(allowed=("Point",), attribute="lens.point")
    bearing_deg = ma.fields.Float(attribute="lens.bearing_deg", allow_none=True)
    fov_deg = ma.fields.Float(attribute="lens.fov_deg")
    range_m = ma.fields.Float(attribute="lens.range_m")


class AssignmentSchema(ma.Schema):
    id = ma.fields.Integer()
    request_id = ma.fields.Integer()
    rank = ma.fields.Integer()
    owner_id = ma.fields.Integer()
    owner_name = ma.fields.String(attribute="owner.name")
    owner_kind = ma.fields.Function(lambda a: a.owner.kind.value)
    status = ma.fields.Enum(AssignmentStatus, by_value=True)
    version = ma.fields.Integer()
    preservation_deadline = ma.fields.AwareDateTime()
    window_start = ma.fields.AwareDateTime(metadata={"description": "the earliest of its lenses' windows"})
    window_end = ma.fields.AwareDateTime(metadata={"description": "the latest of its lenses' windows"})
    distance_m = ma.fields.Float()
    covered_by_commitment = ma.fields.Boolean()
    handover = ma.fields.Enum(Handover, by_value=True, allow_none=True)
    answer_note = ma.fields.String(allow_none=True)
    evidence_ref = ma.fields.String(allow_none=True)
    evidence_sha256 = ma.fields.String(allow_none=True)
    answered_at = ma.fields.AwareDateTime(allow_none=True)
    allowed_actions = ma.fields.Function(
        lambda a: [action for action in allowed_actions(ASSIGNMENT_TRANSITIONS, a.status) if action in POLICE_ACTIONS]
    )
    lenses = ma.fields.Nested(AssignmentLensSchema, many=True)


def _request(obj):
    """List lines wrap the request with its urgency, the detail with its deliveries; the steps' answers are the
    request itself."""
    return obj.request if isinstance(obj, (requests.RequestLine, request_views.RequestDetail)) else obj


class FootageRequestSchema(ma.Schema):
    id = ma.fields.Integer()
    commune_code = ma.fields.String(attribute="commune.code")
    case_ref = ma.fields.String()
    reason = ma.fields.String()
    legal_basis = ma.fields.String()
    incident = GeoJSONGeometry(allowed=INCIDENT_KINDS)
    window_start = ma.fields.AwareDateTime()
    window_end = ma.fields.AwareDateTime()
    radius_m = ma.fields.Float()
    deadline = ma.fields.AwareDateTime(allow_none=True)
    route_timing = ma.fields.Dict(
        allow_none=True,
        metadata={"description": "a timed route's times (one per point, null where unknown), speed_kmh and margin"},
    )
    status = ma.fields.Enum(RequestStatus, by_value=True)
    version = ma.fields.Integer()
    created_at = ma.fields.AwareDateTime()
    routed_at = ma.fields.AwareDateTime(allow_none=True)
    closed_at = ma.fields.AwareDateTime(allow_none=True)
    lenses_considered = ma.fields.Integer()
    lenses_routed = ma.fields.Integer()
    lenses_skipped = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    outcome = ma.fields.Function(lambda obj: outcome(_request(obj)))
    allowed_actions = ma.fields.Function(lambda obj: allowed_actions(REQUEST_TRANSITIONS, _request(obj).status))


class FootageRequestDetailSchema(FootageRequestSchema):
    assignments = ma.fields.Nested(AssignmentSchema, many=True)


class AssignmentDeliveriesSchema(AssignmentSchema):
    deliveries = ma.fields.Nested(
        DeliverySchema,
        many=True,
        metadata={"description": "the owner's messages and whether they arrived, newest first"},
    )


class FootageRequestDeliveriesSchema(FootageRequestDetailSchema):
    """The detail with each owner's deliveries, which the service reads beside the request."""

    assignments = ma.fields.Nested(AssignmentDeliveriesSchema, many=True)

    def get_attribute(self, obj, attr, default):
        return super().get_attribute(_request(obj), attr, default)

    @ma.post_dump(pass_original=True)
    def _add_deliveries(self, data, detail, **kwargs):
        for assignment in data["assignments"]:
            assignment["deliveries"] = DeliverySchema(many=True).dump(detail.deliveries.get(assignment["id"], []))
        return data


class RequestLineSchema(FootageRequestSchema):
    next_deadline = ma.fields.AwareDateTime(
        allow_none=True,
        metadata={"description": "earliest preservation deadline among open assignments: the footage at risk next"},
    )
    open_assignments = ma.fields.Integer()

    def get_attribute(self, obj, attr, default):
        source = obj if attr in ("next_deadline", "open_assignments") else _request(obj)
        return super().get_attribute(source, attr, default)


class RequestQuerySchema(StrictSchema):
    status = ma.fields.Enum(RequestStatus, by_value=True)


@requests_blp.route("")
class FootageRequests(MethodView):
    @requests_blp.arguments(RequestQuerySchema, location="query")
    @requests_blp.response(200, RequestLineSchema(many=True))
    @paginate(requests_blp)
    def get(self, query, pagination_parameters):
        """Requests in your reach, the most urgent first."""
        return page_of(pagination_parameters, requests.list_requests, session(), require_actor(), **query)

    @requests_blp.arguments(FootageRequestCreateSchema)
    @requests_blp.response(201, FootageRequestDetailSchema)
    def post(self, data):
        """Open a request for an incident in (or within radius_m of) your commune; it is routed at once. The incident
        is a Point, a LineString (the route taken) or a Polygon (an area of at most AREA_REQUEST_MAX_KM2, 0.5 km² by
        default, with no holes)."""
        return committed(
            requests.open_request(
                session(),
                require_actor(),
                **data,
                public_base_url=current_app.config["PUBLIC_BASE_URL"],
                max_area_km2=current_app.config["AREA_REQUEST_MAX_KM2"],
            )
        )


class TrackFileSchema(ma.Schema):
    track = Upload(required=True, metadata={"description": "a GPX file, or GeoJSON with properties.coordTimes"})


class TimedRouteSchema(ma.Schema):
    incident = GeoJSONGeometry(allowed=("LineString",), attribute="route")
    route_times = ma.fields.List(ma.fields.AwareDateTime(allow_none=True), attribute="times")


@requests_blp.route("/track")
class TrackReading(MethodView):
    @requests_blp.arguments(TrackFileSchema, location="files")
    @requests_blp.response(200, TimedRouteSchema)
    def post(self, files):
        """Read a GPS track (GPX `<trkpt>` with `<time>`, or a GeoJSON LineString with `properties.coordTimes`) into
        the `incident` and `route_times` of a timed route, to send on to POST /api/v1/footage-requests. Nothing
        is stored; a file that is neither, or has bad points, is refused with 422 naming `track`."""
        require_actor()
        return tracks.read_track(files["track"].read(), current_app.config["JSON_MAX_DEPTH"])


@requests_blp.route("/<int:request_id>")
class FootageRequestById(MethodView):
    @requests_blp.response(200, FootageRequestDeliveriesSchema)
    def get(self, request_id):
        """The request, its assignments and whether each owner's messages arrived."""
        return request_views.request_detail(session(), require_actor(), request_id)


@requests_blp.route("/<int:request_id>/open")
class FootageRequestOpening(MethodView):
    @requests_blp.arguments(VersionSchema)
    @requests_blp.response(200, FootageRequestDetailSchema)
    @requests_blp.alt_response(409, schema=ConflictErrorSchema, description=STEP_CONFLICT)
    def post(self, data, request_id):
        """Open and route a draft."""
        return committed(
            requests.open_draft(
                session(),
                require_actor(),
                request_id,
                expected_version=data["version"],
                public_base_url=current_app.config["PUBLIC_BASE_URL"],
            )
        )


@requests_blp.route("/<int:request_id>/cancel")
class FootageRequestCancellation(MethodView):
    @requests_blp.arguments(VersionSchema)
    @requests_blp.response(200, FootageRequestDetailSchema)
    @requests_blp.alt_response(409, schema=ConflictErrorSchema, description=STEP_CONFLICT)
    def post(self, data, request_id):
        """Cancel; assignments still open are withdrawn."""
        return committed(
            requests.cancel_request(
                session(), require_actor(), request_id, expected_version=data["version"], note=data["note"]
            )
        )


@assignments_blp.route(f"/<int:assignment_id>/<any({', '.join(POLICE_ACTIONS)}):action>")
class AssignmentAction(MethodView):
    @assignments_blp.arguments(AssignmentActionSchema)
    @assignments_blp.response(200, AssignmentSchema)
    @assignments_blp.alt_response(409, schema=ConflictErrorSchema, description=STEP_CONFLICT)
    def post(self, data, assignment_id, action):
        """Record an owner's answer taken by phone (consent, decline, report_no_footage), footage received
        (the stored clip, `clip_id`: its hash is the evidence's) or close. An illegal step answers 409 with the
        allowed actions; a
        stale version, or another answer given at the same moment, 409 stale_version; both with `current`."""
        return committed(
            requests.act_on_assignment(
                session(), require_actor(), assignment_id, action, expected_version=data.pop("version"), **data
            )
        )
