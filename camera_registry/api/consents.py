"""/api/v1/owners/{id}/consents: an owner's consent records, the proof of each consent given or withdrawn.

For administrators and the police of the owner's commune; each read is audited as a disclosure of the owner's
contacts (`owner.contacts_read`, seen on `consents_api`), since the records keep the device facts of the web.
"""

from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView

from ..models import ConsentChannel, ConsentPurpose
from ..services import consents
from .base import api_blueprint, require_actor, session


class ConsentRecordSchema(ma.Schema):
    id = ma.fields.Integer()
    owner_id = ma.fields.Integer()
    purpose = ma.fields.Enum(ConsentPurpose, by_value=True)
    channel = ma.fields.Enum(ConsentChannel, by_value=True)
    given_at = ma.fields.AwareDateTime()
    notice_version = ma.fields.String()
    notice_text = ma.fields.String(
        allow_none=True, metadata={"description": "the notice in full; null for a paper commitment with no text kept"}
    )
    notice_sha256 = ma.fields.String(allow_none=True)
    language = ma.fields.String()
    commitment_text_id = ma.fields.Integer(allow_none=True)
    commitment_id = ma.fields.Integer(allow_none=True)
    assignment_id = ma.fields.Integer(allow_none=True)
    owner_link_id = ma.fields.Integer(allow_none=True)
    user_agent = ma.fields.String(allow_none=True, metadata={"description": "the web only, at most 255 characters"})
    client_address = ma.fields.String(
        allow_none=True, metadata={"description": "the web only, as the rate limit saw it"}
    )
    accept_language = ma.fields.String(allow_none=True, metadata={"description": "the web only, at most 64 characters"})
    recorded_by_user_id = ma.fields.Integer(
        allow_none=True, metadata={"description": "the officer, for paper or on site"}
    )
    import_job_id = ma.fields.Integer(allow_none=True, metadata={"description": "the register import that brought it"})


blp = api_blueprint("consents", __name__, "owners", "Owners' consent records (proof of consent, law 91/2025/QH15)")


@blp.route("/<int:owner_id>/consents")
class OwnerConsents(MethodView):
    @blp.response(200, ConsentRecordSchema(many=True))
    def get(self, owner_id):
        """Every consent the owner gave or withdrew, oldest first, with its notice and facts (read audited)."""
        return consents.owner_consents(session(), require_actor(), owner_id)
