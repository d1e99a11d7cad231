"""/api/v1/sites: programme sites ("điểm mô hình Camera an ninh")."""
from __future__ import annotations

from flask.views import MethodView

from ..services import sites
from .base import api_blueprint, committed, page_items, paginate, require_actor, session
from .schemas import CommuneFilterSchema, SiteCreateSchema, SiteSchema, SiteUpdateSchema

blp = api_blueprint("sites", __name__, "sites", "Programme sites, each run by one commune")


@blp.route("")
class Sites(MethodView):
    @blp.arguments(CommuneFilterSchema, location="query")
    @blp.response(200, SiteSchema(many=True))
    @paginate(blp)
    def get(self, query, pagination_parameters):
        """Sites in your reach."""
        return page_items(pagination_parameters, sites.list_sites(
            session(), require_actor(), **query, page=pagination_parameters.page,
            page_size=pagination_parameters.page_size))

    @blp.arguments(SiteCreateSchema)
    @blp.response(201, SiteSchema)
    def post(self, data):
        """Create a site in your commune."""
        return committed(sites.create_site(session(), require_actor(), **data))


@blp.route("/<int:site_id>")
class SiteById(MethodView):
    @blp.response(200, SiteSchema)
    def get(self, site_id):
        return sites.get_site(session(), require_actor(), site_id)

    @blp.arguments(SiteUpdateSchema)
    @blp.response(200, SiteSchema)
    def patch(self, data, site_id):
        return committed(sites.update_site(session(), require_actor(), site_id, data))

    @blp.response(204)
    def delete(self, site_id):
        """Delete a site that no longer groups any recorder."""
        committed(sites.delete_site(session(), require_actor(), site_id))
