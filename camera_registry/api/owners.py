"""/api/v1/owners: camera owners. Contact data only for roles that need it, every read audited."""
from __future__ import annotations

from flask.views import MethodView

from ..services import owners
from .base import api_blueprint, committed, page_items, paginate, require_actor, session
from .schemas import OwnerCreateSchema, OwnerQuerySchema, OwnerSchema, OwnerUpdateSchema

blp = api_blueprint("owners", __name__, "owners", "Camera owners (households, agencies, businesses)")


@blp.route("")
class Owners(MethodView):
    @blp.arguments(OwnerQuerySchema, location="query")
    @blp.response(200, OwnerSchema(many=True))
    @paginate(blp)
    def get(self, query, pagination_parameters):
        """Owners in your reach; phone, email and address only where your role may see them."""
        found = owners.list_owners(session(), require_actor(), **query, page=pagination_parameters.page,
                                   page_size=pagination_parameters.page_size)
        return page_items(pagination_parameters, found)  # the disclosure audit is written after the read

    @blp.arguments(OwnerCreateSchema)
    @blp.response(201, OwnerSchema)
    def post(self, data):
        return committed(owners.create_owner(session(), require_actor(), **data))


@blp.route("/<int:owner_id>")
class OwnerById(MethodView):
    @blp.response(200, OwnerSchema)
    def get(self, owner_id):
        return owners.get_owner(session(), require_actor(), owner_id)

    @blp.arguments(OwnerUpdateSchema)
    @blp.response(200, OwnerSchema)
    def patch(self, data, owner_id):
        return committed(owners.update_owner(session(), require_actor(), owner_id, data))

    @blp.response(200, OwnerSchema)
    def delete(self, owner_id):
        """Anonymise the owner on request (personal data law): name and contacts are erased."""
        return committed(owners.anonymise_owner(session(), require_actor(), owner_id))
