"""/api/v1/commitments: sign, renew and revoke owners' sharing commitments; history is kept."""

from __future__ import annotations

import marshmallow as ma
from flask import current_app
from flask.views import MethodView
from marshmallow import validate

from ..models import ConsentChannel
from ..schemas.base import StrictSchema
from ..services import commitment_invitations, commitments
from .base import api_blueprint, committed, page_of, paginate, require_actor, session
from .schemas import (
    CommitmentQuerySchema,
    CommitmentRenewSchema,
    CommitmentRevokeSchema,
    CommitmentSchema,
    CommitmentSignSchema,
)


def _consent_channel():
    """How the owner gave what the officer records; left out, the commitment's channel (paper) says."""
    return ma.fields.Enum(
        ConsentChannel,
        by_value=True,
        load_default=None,
        validate=validate.OneOf([ConsentChannel.PAPER, ConsentChannel.ON_SITE]),
        metadata={"description": "paper, or on_site: the owner told the officer in person (for the consent record)"},
    )


class OfficerSignSchema(CommitmentSignSchema):
    consent_channel = _consent_channel()


class OfficerRenewSchema(CommitmentRenewSchema):
    consent_channel = _consent_channel()


class OfficerRevokeSchema(CommitmentRevokeSchema):
    consent_channel = _consent_channel()


class InvitationRequestSchema(StrictSchema):
    owner_external_id = ma.fields.String(required=True, validate=validate.Length(min=1, max=64))


class InvitationSchema(ma.Schema):
    owner_external_id = ma.fields.String(attribute="owner.external_id")
    channels = ma.fields.Function(lambda invitation: [message.channel.value for message in invitation.messages])
    link_expires_at = ma.fields.AwareDateTime()


blp = api_blueprint("commitments", __name__, "commitments", "Owners' sharing commitments (cam kết chia sẻ dữ liệu)")


@blp.route("")
class Commitments(MethodView):
    @blp.arguments(CommitmentQuerySchema, location="query")
    @blp.response(200, CommitmentSchema(many=True))
    @paginate(blp)
    def get(self, query, pagination_parameters):
        """Commitments of owners in your reach; `active=true` for those in force now."""
        return page_of(pagination_parameters, commitments.list_commitments, session(), require_actor(), **query)

    @blp.arguments(OfficerSignSchema)
    @blp.response(201, CommitmentSchema)
    def post(self, data):
        """Record a signed commitment (all the owner's recorders, or `recorder_ids`)."""
        return committed(commitments.sign_commitment(session(), require_actor(), **data))


@blp.route("/<int:commitment_id>")
class CommitmentById(MethodView):
    @blp.response(200, CommitmentSchema)
    def get(self, commitment_id):
        return commitments.get_commitment(session(), require_actor(), commitment_id)


@blp.route("/<int:commitment_id>/renew")
class CommitmentRenewal(MethodView):
    @blp.arguments(OfficerRenewSchema)
    @blp.response(201, CommitmentSchema)
    def post(self, data, commitment_id):
        """Renew: a new signature with the same scope; the old commitment stays in the history."""
        return committed(commitments.renew_commitment(session(), require_actor(), commitment_id, **data))


@blp.route("/<int:commitment_id>/revoke")
class CommitmentRevocation(MethodView):
    @blp.arguments(OfficerRevokeSchema)
    @blp.response(200, CommitmentSchema)
    def post(self, data, commitment_id):
        """Revoke from now on; the lenses it covered stop counting as shared."""
        return committed(commitments.revoke_commitment(session(), require_actor(), commitment_id, **data))


@blp.route("/invitations")
class CommitmentInvitations(MethodView):
    @blp.arguments(InvitationRequestSchema)
    @blp.response(202, InvitationSchema)
    def post(self, data):
        """Invite an owner with no commitment in force to sign one through a link of their own (queued now)."""
        base_url = current_app.config["PUBLIC_BASE_URL"]
        invitation = commitment_invitations.invite_to_sign(
            session(), require_actor(), data["owner_external_id"], public_base_url=base_url
        )
        return committed(invitation)
