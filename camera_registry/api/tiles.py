"""/tiles/lenses/{z}/{x}/{y}.mvt: Mapbox vector tiles of the lenses in your reach (WebMercatorQuad).

A tile without a lens answers 204 No Content, as OGC API - Tiles allows.
Tiles differ by who asks, so caches may keep them only privately.
"""

from __future__ import annotations

from flask import Response, request
from flask_smorest import Blueprint
from werkzeug.exceptions import BadRequest, HTTPException

from ..geo.tiles import Tile
from ..services.errors import DomainError
from ..services.tiles import lens_tile
from .base import require_actor, session
from .errors import domain_error, http_error
from .schemas import BINARY_BODY

MVT = "application/vnd.mapbox-vector-tile"
CACHE_CONTROL = "private, max-age=300"

blp = Blueprint("tiles", __name__, url_prefix="/tiles", description="Mapbox vector tiles of lenses")
blp.register_error_handler(DomainError, domain_error)
blp.register_error_handler(HTTPException, http_error)


@blp.before_request
def _authenticate() -> None:
    require_actor()


@blp.route("/lenses/<int(signed=True):z>/<int(signed=True):x>/<int(signed=True):y>.mvt")
@blp.response(
    200,
    description='Layer "lenses": id, status, kind, bearing_deg, fov_deg, range_m, shared',
    content_type=MVT,
    schema=BINARY_BODY,
)
@blp.alt_response(204, description="No lens in your reach on this tile")
def lenses(z, x, y):
    problem = Tile.problem(z, x, y)
    if problem:
        raise BadRequest(f"no tile {z}/{x}/{y}: {problem}")
    body = lens_tile(session(), require_actor(), Tile(z, x, y))
    response = Response(body, 200 if body else 204, mimetype=MVT)
    response.headers["Cache-Control"] = CACHE_CONTROL
    response.vary.update(("Authorization", "Cookie"))
    response.add_etag()
    return response.make_conditional(request)
