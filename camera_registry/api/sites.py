"""/api/v1/sites: programme sites ("điểm mô hình Camera an ninh").

One site answers with its ETag; a change or deletion names the version it
read (If-Match or `version`) or is unconditional (api/versions.py)."""

from __future__ import annotations

from flask.views import MethodView

from ..services import sites
from .base import api_blueprint, committed, page_of, paginate, require_actor, session
from .schemas import CommuneFilterSchema, SiteCreateSchema, SiteSchema, SiteUpdateSchema
from .versions import (
    ETAG_HEADERS,
    STALE_DESCRIPTION,
    ConflictErrorSchema,
    IfMatchSchema,
    VersionQuerySchema,
    expected_version,
    versioned_write,
    with_etag,
)

blp = api_blueprint("sites", __name__, "sites", "Programme sites, each run by one commune")


@blp.route("")
class Sites(MethodView):
    @blp.arguments(CommuneFilterSchema, location="query")
    @blp.response(200, SiteSchema(many=True))
    @paginate(blp)
    def get(self, query, pagination_parameters):
        """Sites in your reach."""
        return page_of(pagination_parameters, sites.list_sites, session(), require_actor(), **query)

    @blp.arguments(SiteCreateSchema)
    @blp.response(201, SiteSchema, headers=ETAG_HEADERS)
    @blp.alt_response(409, schema=ConflictErrorSchema, description="code already used")
    def post(self, data):
        """Create a site in your commune."""
        return with_etag(committed(sites.create_site(session(), require_actor(), **data)), 201)


@blp.route("/<int:site_id>")
class SiteById(MethodView):
    @blp.response(200, SiteSchema, headers=ETAG_HEADERS)
    def get(self, site_id):
        return with_etag(sites.get_site(session(), require_actor(), site_id))

    @versioned_write(blp, SiteSchema, changes=SiteUpdateSchema)
    def patch(self, changes, version, site_id):
        """Change a site; name the version you read (If-Match or `version`), or none for an unconditional write."""
        return sites.update_site(session(), require_actor(), site_id, changes, expected_version=version)

    @blp.arguments(VersionQuerySchema, location="query")
    @blp.arguments(IfMatchSchema, location="headers")
    @blp.response(204)
    @blp.alt_response(
        409, schema=ConflictErrorSchema, description=f"{STALE_DESCRIPTION}; or the site still groups recorders"
    )
    def delete(self, query, headers, site_id):
        """Delete a site that no longer groups any recorder; name the version you read (If-Match or ?version=),
        or none for an unconditional deletion."""
        committed(
            sites.delete_site(
                session(), require_actor(), site_id, expected_version=expected_version(query["version"], headers)
            )
        )
