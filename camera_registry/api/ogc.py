"""/ogc: OGC API - Features (Part 1, Core and GeoJSON) for QGIS, owslib and other GIS clients.

Thin glue over services.features. Every route needs a signed-in user, as
the API does; errors leave as OGC exception documents {"code", "description"}.
"""

from __future__ import annotations

import json

import marshmallow as ma
from flask import Response, request, url_for
from flask_smorest import Blueprint
from marshmallow import validate
from werkzeug.exceptions import HTTPException, NotAcceptable

from ..http.messages import translated
from ..http.statuses import status_of
from ..schemas.base import StrictSchema
from ..schemas.fields import NumberList
from ..services import features
from ..services.errors import DomainError
from ..services.messages import refusal
from .base import require_actor, session
from .errors import describe_http_error, with_error_headers
from .schemas import FeatureCollectionSchema, FeatureSchema, OgcDocumentSchema

EXCEPTION_CODES = {
    400: "InvalidParameterValue",
    401: "NotAuthenticated",
    403: "Forbidden",
    404: "NotFound",
    406: "NotAcceptable",
}


class OgcExceptionSchema(ma.Schema):
    """An OGC API exception document (documentation only: `_exception` writes it)."""

    code = ma.fields.String(metadata={"description": f"one of {', '.join(EXCEPTION_CODES.values())}, or ServerError"})
    description = ma.fields.String(metadata={"description": "what went wrong, for people"})


class OgcBlueprint(Blueprint):
    """Every error of these routes is an OGC exception document, so the OpenAPI document says so in place
    of the API's Error shape (flask-smorest adds that one to every operation)."""

    @staticmethod
    def _prepare_response_doc(doc, doc_info, *, api, spec, **kwargs):
        doc = Blueprint._prepare_response_doc(doc, doc_info, api=api, spec=spec, **kwargs)
        responses = doc.setdefault("responses", {})
        for status in list(responses):
            if status == "default" or int(status) >= 400:
                responses[status] = {
                    "description": "An OGC API exception",
                    "content": {features.JSON: {"schema": OgcExceptionSchema}},
                }
        return doc


blp = OgcBlueprint(
    "ogc",
    __name__,
    url_prefix="/ogc",
    description="OGC API - Features (Part 1: Core, GeoJSON): lenses, recorders, sites, communes",
)


class OgcFormatSchema(StrictSchema):
    f = ma.fields.String(validate=validate.OneOf(["json"]), metadata={"description": "json (the only format)"})


class OgcItemsQuerySchema(OgcFormatSchema):
    limit = ma.fields.Integer(
        load_default=features.DEFAULT_LIMIT,
        validate=validate.Range(min=1),
        metadata={"description": f"features per page; above {features.MAX_LIMIT} means {features.MAX_LIMIT}"},
    )
    offset = ma.fields.Integer(load_default=0, validate=validate.Range(min=0))
    bbox = NumberList(4, metadata={"description": "minlon,minlat,maxlon,maxlat (CRS84)"})
    bbox_crs = ma.fields.String(data_key="bbox-crs", validate=validate.OneOf([features.CRS84]))
    datetime = ma.fields.String(metadata={"description": "accepted and ignored: no collection has a time dimension"})

    @ma.validates_schema
    def _bbox_in_range(self, data, **kwargs):
        if "bbox" in data:
            min_lon, min_lat, max_lon, max_lat = data["bbox"]
            if not (-180 <= min_lon <= max_lon <= 180 and -90 <= min_lat <= max_lat <= 90):
                raise ma.ValidationError(
                    refusal("bbox must be minlon,minlat,maxlon,maxlat in degrees, min not above max"), "bbox"
                )

    @ma.post_load
    def _items_query(self, data, **kwargs) -> features.ItemsQuery:
        bbox = tuple(data["bbox"]) if "bbox" in data else None
        return features.ItemsQuery(min(data["limit"], features.MAX_LIMIT), data["offset"], bbox)


def _query(schema: type[ma.Schema]):
    """Query parameters: unknown or invalid ones are a 400, as OGC API - Features requires."""
    return blp.arguments(schema, location="query", error_status_code=400, unknown=ma.RAISE)


@blp.before_request
def _authenticate() -> None:
    require_actor()


def _exception(status: int, description: str) -> Response:
    response = _document(
        {"code": EXCEPTION_CODES.get(status, "ServerError"), "description": description}, features.JSON, status
    )
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="camera_registry"'
    return response


@blp.errorhandler(DomainError)
def _domain_error(error: DomainError):
    return _exception(status_of(error), translated(error.message))


@blp.errorhandler(HTTPException)
def http_exception(error: HTTPException):
    """Also for /ogc paths no route matches (RegistryApi.handle_http_exception)."""
    return with_error_headers(_exception(error.code or 500, describe_http_error(error)[0]), error)


def _document(body: dict, media_type: str, status: int = 200) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), status, mimetype=media_type)


def _features(body: dict) -> Response:
    """GeoJSON (or plain JSON when only that is accepted), naming its CRS as OGC API - Features Part 2 does."""
    response = _document(body, _negotiated(features.GEOJSON, features.JSON))
    response.headers["Content-Crs"] = f"<{features.CRS84}>"
    return response


def _negotiated(*offered: str) -> str:
    """The first offered type the client accepts; anything when it sends no Accept header."""
    if not request.accept_mimetypes:
        return offered[0]
    chosen = request.accept_mimetypes.best_match(offered)
    if chosen is None:
        raise NotAcceptable(f"this service answers {' or '.join(offered)}")
    return chosen


def _base_url() -> str:
    return url_for("ogc.landing", _external=True).rstrip("/")


@blp.route("/", strict_slashes=False)
@_query(OgcFormatSchema)
@blp.response(
    200,
    description="The landing page: links to the API definition, conformance and collections",
    schema=OgcDocumentSchema,
)
def landing(_):
    return _document(
        features.landing_page(
            _base_url(),
            url_for("api-docs.openapi_json", _external=True),
            url_for("api-docs.openapi_swagger_ui", _external=True),
        ),
        _negotiated(features.JSON),
    )


@blp.route("/conformance")
@_query(OgcFormatSchema)
@blp.response(200, description="The conformance classes implemented", schema=OgcDocumentSchema)
def conformance(_):
    return _document(features.conformance(), _negotiated(features.JSON))


@blp.route("/collections")
@_query(OgcFormatSchema)
@blp.response(200, description="The feature collections", schema=OgcDocumentSchema)
def collections(_):
    return _document(features.collections(_base_url()), _negotiated(features.JSON))


@blp.route("/collections/<collection_id>")
@_query(OgcFormatSchema)
@blp.response(200, description="One collection", schema=OgcDocumentSchema)
def collection(_, collection_id):
    return _document(features.collection(_base_url(), collection_id), _negotiated(features.JSON))


@blp.route("/collections/<collection_id>/items")
@_query(OgcItemsQuerySchema)
@blp.response(
    200,
    description="A page of features in your reach, with next/prev links",
    content_type=features.GEOJSON,
    schema=FeatureCollectionSchema,
)
@blp.alt_response(
    200,
    success=True,
    content_type=features.JSON,
    schema=FeatureCollectionSchema,
    description="A page of features in your reach, with next/prev links (as application/json when "
    "only that is accepted)",
)
def items(query, collection_id):
    return _features(features.items(session(), require_actor(), _base_url(), collection_id, query))


@blp.route("/collections/<collection_id>/items/<feature_id>")
@_query(OgcFormatSchema)
@blp.response(200, description="One feature", content_type=features.GEOJSON, schema=FeatureSchema)
@blp.alt_response(
    200,
    success=True,
    content_type=features.JSON,
    schema=FeatureSchema,
    description="One feature (as application/json when only that is accepted)",
)
def item(_, collection_id, feature_id):
    return _features(features.item(session(), require_actor(), _base_url(), collection_id, feature_id))
