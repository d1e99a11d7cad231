"""/api/v1/commitments: sign, renew and revoke owners' sharing commitments; history is kept."""

from __future__ import annotations

from flask.views import MethodView

from ..services import commitments
from .base import api_blueprint, committed, page_of, paginate, require_actor, session
from .schemas import (
    CommitmentQuerySchema,
    CommitmentRenewSchema,
    CommitmentRevokeSchema,
    CommitmentSchema,
    CommitmentSignSchema,
)

blp = api_blueprint("commitments", __name__, "commitments", "Owners' sharing commitments (cam kết chia sẻ dữ liệu)")


@blp.route("")
class Commitments(MethodView):
    @blp.arguments(CommitmentQuerySchema, location="query")
    @blp.response(200, CommitmentSchema(many=True))
    @paginate(blp)
    def get(self, query, pagination_parameters):
        """Commitments of owners in your reach; `active=true` for those in force now."""
        return page_of(pagination_parameters, commitments.list_commitments, session(), require_actor(), **query)

    @blp.arguments(CommitmentSignSchema)
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
    @blp.arguments(CommitmentRenewSchema)
    @blp.response(201, CommitmentSchema)
    def post(self, data, commitment_id):
        """Renew: a new signature with the same scope; the old commitment stays in the history."""
        return committed(commitments.renew_commitment(session(), require_actor(), commitment_id, **data))


@blp.route("/<int:commitment_id>/revoke")
class CommitmentRevocation(MethodView):
    @blp.arguments(CommitmentRevokeSchema)
    @blp.response(200, CommitmentSchema)
    def post(self, data, commitment_id):
        """Revoke from now on; the lenses it covered stop counting as shared."""
        return committed(commitments.revoke_commitment(session(), require_actor(), commitment_id, **data))
