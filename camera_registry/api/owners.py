"""/api/v1/owners: camera owners. Contact data only for roles that need it, every read audited.

One owner answers with its ETag; a change or anonymisation names the version
it read (If-Match or `version`) or is unconditional (api/versions.py)."""

from __future__ import annotations

from flask.views import MethodView

from ..services import owners
from .base import api_blueprint, committed, page_of, paginate, require_actor, session
from .schemas import OwnerCreateSchema, OwnerQuerySchema, OwnerSchema, OwnerUpdateSchema
from .versions import ETAG_HEADERS, ConflictErrorSchema, versioned_write, with_etag

blp = api_blueprint("owners", __name__, "owners", "Camera owners (households, agencies, businesses)")


@blp.route("")
class Owners(MethodView):
    @blp.arguments(OwnerQuerySchema, location="query")
    @blp.response(200, OwnerSchema(many=True))
    @paginate(blp)
    def get(self, query, pagination_parameters):
        """Owners in your reach; phone, email and address only where your role may see them."""
        # the disclosure audit is written after the read
        return page_of(pagination_parameters, owners.list_owners, session(), require_actor(), **query)

    @blp.arguments(OwnerCreateSchema)
    @blp.response(201, OwnerSchema, headers=ETAG_HEADERS)
    @blp.alt_response(409, schema=ConflictErrorSchema, description="external_id already used")
    def post(self, data):
        return with_etag(committed(owners.create_owner(session(), require_actor(), **data)), 201)


@blp.route("/<int:owner_id>")
class OwnerById(MethodView):
    @blp.response(200, OwnerSchema, headers=ETAG_HEADERS)
    def get(self, owner_id):
        return with_etag(owners.get_owner(session(), require_actor(), owner_id))

    @versioned_write(blp, OwnerSchema, changes=OwnerUpdateSchema)
    def patch(self, changes, version, owner_id):
        """Change an owner; name the version you read (If-Match or `version`), or none for an unconditional write."""
        return owners.update_owner(session(), require_actor(), owner_id, changes, expected_version=version)

    @versioned_write(blp, OwnerSchema)
    def delete(self, version, owner_id):
        """Anonymise the owner on request (personal data law): name and contacts are erased. Name the version
        you read (If-Match or ?version=), or none."""
        return owners.anonymise_owner(session(), require_actor(), owner_id, expected_version=version)
