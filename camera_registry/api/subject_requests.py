"""/api/v1/subject-requests: owners' data-subject requests (see, correct, restrict, delete) and their legal clocks.

For administrators and the police of the owner's commune. Each step names the version it read (`version`) or
none; a step the request's state does not allow is a 409 that says what is allowed now.
"""

from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView
from marshmallow import validate

from ..models import (
    SUBJECT_REQUEST_TRANSITIONS,
    SubjectRequestChannel,
    SubjectRequestKind,
    SubjectRequestStatus,
    allowed_actions,
)
from ..models.base import utcnow
from ..schemas.base import InputSchema, StrictSchema
from ..services import subject_requests
from .base import api_blueprint, committed, page_of, paginate, require_actor, session
from .schemas import OwnerUpdateSchema


def _enum(enum_class, **kwargs):
    return ma.fields.Enum(enum_class, by_value=True, **kwargs)


class SubjectRequestSchema(ma.Schema):
    id = ma.fields.Integer()
    owner_id = ma.fields.Integer()
    kind = _enum(SubjectRequestKind)
    status = _enum(SubjectRequestStatus)
    channel = _enum(SubjectRequestChannel)
    details = ma.fields.String(metadata={"description": "the owner's words"})
    filed_at = ma.fields.AwareDateTime()
    filed_by_user_id = ma.fields.Integer(allow_none=True, metadata={"description": "null: the owner, by their link"})
    processor_involved = ma.fields.Boolean()
    acknowledge_by = ma.fields.AwareDateTime(metadata={"description": "the end of the second working day"})
    complete_by = ma.fields.AwareDateTime(metadata={"description": "the end of the 15th day (20th with a processor)"})
    due = ma.fields.AwareDateTime(metadata={"description": "complete_by, or extended_until once extended"})
    acknowledged_at = ma.fields.AwareDateTime(allow_none=True)
    extended_until = ma.fields.AwareDateTime(allow_none=True)
    extension_reason = ma.fields.String(allow_none=True)
    closed_at = ma.fields.AwareDateTime(allow_none=True)
    outcome_note = ma.fields.String(allow_none=True)
    corrected_fields = ma.fields.List(ma.fields.String(), allow_none=True)
    acknowledgement_overdue = ma.fields.Function(lambda found: found.acknowledgement_overdue(utcnow()))
    completion_overdue = ma.fields.Function(lambda found: found.completion_overdue(utcnow()))
    allowed_actions = ma.fields.Function(lambda found: allowed_actions(SUBJECT_REQUEST_TRANSITIONS, found.status))
    version = ma.fields.Integer()


class SubjectRequestQuerySchema(InputSchema):
    status = _enum(SubjectRequestStatus, load_default=None)
    open = ma.fields.Boolean(load_default=False, data_key="open", attribute="open_only")
    owner_id = ma.fields.Integer(load_default=None, validate=validate.Range(min=1))


class SubjectRequestFileSchema(StrictSchema):
    owner_id = ma.fields.Integer(required=True, validate=validate.Range(min=1))
    kind = _enum(SubjectRequestKind, required=True)
    channel = _enum(SubjectRequestChannel, required=True, metadata={"description": "how the owner asked"})
    details = ma.fields.String(load_default="", validate=validate.Length(max=subject_requests.DETAILS_MAX_LENGTH))
    processor_involved = ma.fields.Boolean(load_default=False)


class SubjectRequestStepSchema(StrictSchema):
    version = ma.fields.Integer(load_default=None, validate=validate.Range(min=1))


class ExtendSchema(SubjectRequestStepSchema):
    days = ma.fields.Integer(required=True, validate=validate.Range(min=1, max=subject_requests.MAX_EXTENSION_DAYS))
    reason = ma.fields.String(required=True, validate=validate.Length(min=1, max=2000))


class RefuseSchema(SubjectRequestStepSchema):
    reason = ma.fields.String(required=True, validate=validate.Length(min=1, max=2000))


class OwnerCorrectionSchema(OwnerUpdateSchema):
    """The owner fields a correction may change, checked as an owner's change is."""

    class Meta:
        exclude = tuple(set(OwnerUpdateSchema().fields) - set(subject_requests.CORRECTABLE_FIELDS))
        unknown = ma.RAISE


class CompleteSchema(SubjectRequestStepSchema):
    note = ma.fields.String(load_default=None, validate=validate.Length(max=2000))
    changes = ma.fields.Nested(
        OwnerCorrectionSchema,
        load_default=None,
        metadata={"description": "a correction's new values of the owner's fields"},
    )


blp = api_blueprint(
    "subject_requests", __name__, "subject-requests", "Owners' data-subject requests (yêu cầu của chủ thể dữ liệu)"
)


@blp.route("")
class SubjectRequests(MethodView):
    @blp.arguments(SubjectRequestQuerySchema, location="query")
    @blp.response(200, SubjectRequestSchema(many=True))
    @paginate(blp)
    def get(self, query, pagination_parameters):
        """Requests of owners in your reach, the soonest due first, with their clocks; `open=true` for open ones."""
        return page_of(pagination_parameters, subject_requests.list_requests, session(), require_actor(), **query)

    @blp.arguments(SubjectRequestFileSchema)
    @blp.response(201, SubjectRequestSchema)
    def post(self, data):
        """File a request on the owner's behalf, as they made it (in person, by phone, on paper, by e-mail)."""
        return committed(subject_requests.file_for_owner(session(), require_actor(), **data))


@blp.route("/<int:request_id>")
class SubjectRequestById(MethodView):
    @blp.response(200, SubjectRequestSchema)
    def get(self, request_id):
        return subject_requests.get_request(session(), require_actor(), request_id)


@blp.route("/<int:request_id>/acknowledge")
class Acknowledgement(MethodView):
    @blp.arguments(SubjectRequestStepSchema)
    @blp.response(200, SubjectRequestSchema)
    def post(self, data, request_id):
        """Acknowledge receipt (due within 2 working days of filing)."""
        found = subject_requests.acknowledge(session(), require_actor(), request_id, expected_version=data["version"])
        return committed(found)


@blp.route("/<int:request_id>/extend")
class Extension(MethodView):
    @blp.arguments(ExtendSchema)
    @blp.response(200, SubjectRequestSchema)
    def post(self, data, request_id):
        """Extend the completion deadline once, by at most 15 days, saying why."""
        found = subject_requests.extend(
            session(), require_actor(), request_id, data["days"], data["reason"], expected_version=data["version"]
        )
        return committed(found)


@blp.route("/<int:request_id>/refuse")
class Refusal(MethodView):
    @blp.arguments(RefuseSchema)
    @blp.response(200, SubjectRequestSchema)
    def post(self, data, request_id):
        """Close the request without doing it, saying why."""
        found = subject_requests.refuse(
            session(), require_actor(), request_id, data["reason"], expected_version=data["version"]
        )
        return committed(found)


@blp.route("/<int:request_id>/complete")
class Completion(MethodView):
    @blp.arguments(CompleteSchema)
    @blp.response(200, SubjectRequestSchema)
    def post(self, data, request_id):
        """Do what it asks: access (the export is ready), correction (`changes`), restriction, deletion
        (the owner is anonymised; counts and the audit trail's facts stay)."""
        found = subject_requests.complete(
            session(),
            require_actor(),
            request_id,
            note=data["note"],
            changes=data["changes"],
            expected_version=data["version"],
        )
        return committed(found)


@blp.route("/<int:request_id>/export")
class Export(MethodView):
    @blp.response(200)
    def get(self, request_id):
        """An access request's export: everything held about the owner, as JSON (the read is audited)."""
        return subject_requests.export_for_staff(session(), require_actor(), request_id)
