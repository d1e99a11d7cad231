"""GeoJSON FeatureCollections for clients that ask for application/geo+json."""
from __future__ import annotations

import json

from flask import Response, request

GEOJSON = "application/geo+json"


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
