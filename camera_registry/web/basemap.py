"""The offline basemap: a local PMTiles archive (MAP_PMTILES_PATH) that the app serves to signed-in staff by
HTTP Range requests, so the maps show streets and water with no internet and no tile server.

The file is checked at start-up, so a wrong path stops the start with the reason rather than leaving blank
maps. The route takes no name: the file comes from the configuration only, so no request can reach another.
werkzeug's conditional `send_file` answers a single Range (206 and Content-Range; 416 outside the file),
ETag and Last-Modified (304), and HEAD, and streams only the asked-for bytes from the open file; any other
Range gets the whole file.
"""

from __future__ import annotations

import html
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from flask import Blueprint, Flask, abort, current_app, request, send_file
from werkzeug.exceptions import RequestedRangeNotSatisfiable
from werkzeug.http import parse_range_header

from ..geo.pmtiles import PMTilesArchive, PMTilesError, read_archive
from .auth import signed_in
from .security import tile_origin

EXTENSION = "pmtiles_basemap"

MARKUP = re.compile(r"<[^>]*>")

log = logging.getLogger("camera_registry.basemap")

blueprint = Blueprint("basemap", __name__)


@dataclass(frozen=True)
class PMTilesBasemap:
    path: Path
    archive: PMTilesArchive
    attribution: str


def load(app: Flask) -> None:
    """Check MAP_PMTILES_PATH and keep what the pages need to know of it (none configured: no basemap file)."""
    configured = app.config.get("MAP_PMTILES_PATH", "")
    if not configured:
        app.extensions[EXTENSION] = None
        origin = tile_origin(app.config.get("MAP_TILE_URL", ""))  # the origin only: a URL may carry a key
        if origin:
            log.info("basemap: XYZ tiles from %s", origin)
        else:  # the default: nothing to tell an operator, and a CLI command's error stays its only line
            log.debug("basemap: none, the commune boundaries are the base")
        return
    path = Path(configured).resolve()
    try:
        archive = read_archive(path)
    except PMTilesError as error:
        raise PMTilesError(f"MAP_PMTILES_PATH: {error}") from None
    attribution = app.config.get("MAP_PMTILES_ATTRIBUTION", "") or credit_text(archive.attribution)
    app.extensions[EXTENSION] = PMTilesBasemap(path, archive, attribution)
    log.info("basemap: the PMTiles archive %s, %s", path, archive.describe())


def credit_text(attribution: str) -> str:
    """The archive's own credit as plain text, escaped: the map shows attributions as HTML, and the file is not
    the operator's word as MAP_PMTILES_ATTRIBUTION is."""
    return html.escape(" ".join(html.unescape(MARKUP.sub(" ", attribution)).split()))


def current_basemap() -> PMTilesBasemap | None:
    return current_app.extensions.get(EXTENSION)


@blueprint.get("/basemap.pmtiles")
@signed_in
def pmtiles_archive():
    basemap = current_basemap()
    if basemap is None or not basemap.path.is_file():  # none configured, or the file was taken away since the start
        abort(404)
    if "HTTP_RANGE" in request.environ and not _one_byte_range(request.environ["HTTP_RANGE"]):
        del request.environ["HTTP_RANGE"]  # the whole file, as HTTP wants for a Range a server does not serve
    response = send_file(basemap.path, mimetype="application/octet-stream", conditional=True, max_age=None)
    # Revalidated on every read (a cheap 304 by ETag): a replaced file is never mixed with cached ranges of the old.
    response.headers["Cache-Control"] = "private, no-cache"
    return response


def _one_byte_range(header: str) -> bool:
    """A single well-formed range of bytes, which send_file serves (206, or 416 past the end). Several ranges, a
    malformed one or another unit are ignored instead of refused: HTTP lets a server ignore them (and requires it
    for a unit it does not know), and a PMTiles reader only ever asks for one."""
    parsed = parse_range_header(header)
    return parsed is not None and parsed.units == "bytes" and len(parsed.ranges) == 1


@blueprint.errorhandler(RequestedRangeNotSatisfiable)
def unsatisfiable_range(error: RequestedRangeNotSatisfiable):
    """werkzeug's own 416, whose `Content-Range: bytes */<size>` tells the reader the file's length; the app's
    plain error page would drop it."""
    return error.get_response()


def init_app(app: Flask) -> None:
    load(app)
    app.register_blueprint(blueprint)
    app.context_processor(lambda: {"pmtiles_basemap": current_basemap()})
