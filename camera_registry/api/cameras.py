"""/api/v1/recorders and /api/v1/lenses: placement, bbox and radius search, GeoJSON out.

One record answers with its ETag; a change or removal names the version it
read (If-Match or `version`) or is unconditional (api/versions.py)."""

from __future__ import annotations

from flask.views import MethodView
from shapely.geometry import Point

from ..services import cameras
from .base import api_blueprint, committed, page_of, paginate, require_actor, session
from .geojson import GEOJSON, feature_collection, wants_geojson
from .schemas import (
    FeatureCollectionSchema,
    LensCreateSchema,
    LensQuerySchema,
    LensSchema,
    LensUpdateSchema,
    RecorderCreateSchema,
    RecorderQuerySchema,
    RecorderSchema,
    RecorderUpdateSchema,
)
from .versions import ETAG_HEADERS, ConflictErrorSchema, versioned_write, with_etag

recorders_blp = api_blueprint("recorders", __name__, "recorders", "Recorders (đầu thu, DVR/NVR) that keep the footage")
lenses_blp = api_blueprint("lenses", __name__, "lenses", "Lenses (mắt camera) with position and field of view")


def _place(query: dict) -> cameras.PlaceFilter:
    near = query.pop("near", None)
    return cameras.PlaceFilter(
        bbox=tuple(query.pop("bbox")) if "bbox" in query else None,
        near=Point(near) if near else None,
        radius_m=query.pop("radius_m", None),
    )


def _listing(finder, schema, query, pagination_parameters):
    """One page, as JSON (paging in X-Pagination) or as a GeoJSON FeatureCollection."""
    items = page_of(pagination_parameters, finder, session(), require_actor(), place=_place(query), **query)
    if wants_geojson():
        return feature_collection(items, schema, total=pagination_parameters.item_count)
    return items


geojson_alternative = {
    "content_type": GEOJSON,
    "schema": FeatureCollectionSchema,
    "description": "A page of the list; a GeoJSON FeatureCollection with Accept: application/geo+json",
}


@recorders_blp.route("")
class Recorders(MethodView):
    @recorders_blp.arguments(RecorderQuerySchema, location="query")
    @recorders_blp.response(200, RecorderSchema(many=True))
    @recorders_blp.alt_response(200, success=True, **geojson_alternative)
    @paginate(recorders_blp)
    def get(self, query, pagination_parameters):
        """Recorders in your reach; filter by commune, status, owner, bbox or near+radius_m (nearest first)."""
        return _listing(cameras.list_recorders, RecorderSchema(), query, pagination_parameters)

    @recorders_blp.arguments(RecorderCreateSchema)
    @recorders_blp.response(201, RecorderSchema, headers=ETAG_HEADERS)
    @recorders_blp.alt_response(409, schema=ConflictErrorSchema, description="external_id already used")
    def post(self, data):
        return with_etag(committed(cameras.create_recorder(session(), require_actor(), **data)), 201)


@recorders_blp.route("/<int:recorder_id>")
class RecorderById(MethodView):
    @recorders_blp.response(200, RecorderSchema, headers=ETAG_HEADERS)
    def get(self, recorder_id):
        return with_etag(cameras.get_recorder(session(), require_actor(), recorder_id))

    @versioned_write(recorders_blp, RecorderSchema, changes=RecorderUpdateSchema)
    def patch(self, changes, version, recorder_id):
        """Change a recorder; name the version you read (If-Match or `version`), or none for an unconditional write."""
        return cameras.update_recorder(session(), require_actor(), recorder_id, changes, expected_version=version)

    @versioned_write(recorders_blp, RecorderSchema)
    def delete(self, version, recorder_id):
        """Mark the recorder and its lenses removed (kept for the requests that cite them); name the version
        you read (If-Match or ?version=), or none for an unconditional removal."""
        return cameras.remove_recorder(session(), require_actor(), recorder_id, expected_version=version)


@lenses_blp.route("")
class Lenses(MethodView):
    @lenses_blp.arguments(LensQuerySchema, location="query")
    @lenses_blp.response(200, LensSchema(many=True))
    @lenses_blp.alt_response(200, success=True, **geojson_alternative)
    @paginate(lenses_blp)
    def get(self, query, pagination_parameters):
        """Lenses in your reach; filter by commune, status, kind, recorder, bbox or near+radius_m (nearest first)."""
        return _listing(cameras.list_lenses, LensSchema(), query, pagination_parameters)

    @lenses_blp.arguments(LensCreateSchema)
    @lenses_blp.response(201, LensSchema, headers=ETAG_HEADERS)
    @lenses_blp.alt_response(409, schema=ConflictErrorSchema, description="external_id already used")
    def post(self, data):
        return with_etag(committed(cameras.create_lens(session(), require_actor(), **data)), 201)


@lenses_blp.route("/<int:lens_id>")
class LensById(MethodView):
    @lenses_blp.response(200, LensSchema, headers=ETAG_HEADERS)
    def get(self, lens_id):
        return with_etag(cameras.get_lens(session(), require_actor(), lens_id))

    @versioned_write(lenses_blp, LensSchema, changes=LensUpdateSchema)
    def patch(self, changes, version, lens_id):
        """Change a lens; name the version you read (If-Match or `version`), or none for an unconditional write."""
        return cameras.update_lens(session(), require_actor(), lens_id, changes, expected_version=version)

    @versioned_write(lenses_blp, LensSchema)
    def delete(self, version, lens_id):
        """Mark the lens removed; name the version you read (If-Match or ?version=), or none."""
        return cameras.remove_lens(session(), require_actor(), lens_id, expected_version=version)
