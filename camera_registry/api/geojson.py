"""GeoJSON FeatureCollections for clients that ask for application/geo+json, and the nesting bound on
every JSON body the service is sent (JSON_MAX_DEPTH)."""

from __future__ import annotations

import json

from flask import Flask, Response, current_app, request

from ..services.errors import ValidationFailed
from ..services.messages import refusal
from ..services.upload_limits import TooDeep, check_json_depth, load_json

GEOJSON = "application/geo+json"


def refuse_deep_json() -> None:
    """Before any view parses it: a JSON body nested deeper than JSON_MAX_DEPTH is refused with 422.

    webargs would hand the body to json.loads, which raises RecursionError (a
    500) on a document of some thousand nested arrays; a GeoJSON geometry
    nests fewer than 10 levels.
    """
    if request.method in ("GET", "HEAD", "OPTIONS") or not request.is_json:
        return
    body = request.get_data(cache=True)
    if not body:
        return
    try:
        load_json(body, current_app.config["JSON_MAX_DEPTH"])
    except TooDeep as error:
        (reason,) = error.args
        raise ValidationFailed(refusal("the JSON body is %(reason)s", reason=reason), {"json": [reason]}) from None
    except ValueError:
        return  # not JSON at all: the view's parser answers that in its own words


def check_geojson_depth(value: object) -> str | None:
    """Why a parsed GeoJSON value nests too deep (JSON_MAX_DEPTH), or None: for fields that take GeoJSON."""
    try:
        check_json_depth(value, current_app.config["JSON_MAX_DEPTH"])
    except TooDeep as error:
        return str(error)
    return None


def init_app(app: Flask) -> None:
    app.before_request(refuse_deep_json)


def wants_geojson() -> bool:
    best = request.accept_mimetypes.best_match(["application/json", GEOJSON])
    return best == GEOJSON


def feature_collection(items: list, schema, geometry_field: str = "point", total: int | None = None) -> Response:
    features = []
    for properties in schema.dump(items, many=True):
        geometry = properties.pop(geometry_field)
        features.append({"type": "Feature", "id": properties.get("id"), "geometry": geometry, "properties": properties})
    body = {"type": "FeatureCollection", "features": features}
    if total is not None:
        body["numberMatched"], body["numberReturned"] = total, len(features)
    return Response(json.dumps(body, ensure_ascii=False), mimetype=GEOJSON)
