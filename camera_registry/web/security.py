"""Security headers on every response: a Content-Security-Policy, no framing, no sniffing, a referrer policy.

The policy lets the pages run only scripts served by the app itself (no inline
script, no eval), so text that reaches a page unescaped cannot run. Styles may
be inline: the pages carry a <style> block and Leaflet positions its layers
with style attributes; a style cannot run script. Map tiles may come from the
origin of MAP_TILE_URL, unless a PMTiles basemap (MAP_PMTILES_PATH) replaces it.
That basemap needs nothing more: MapLibre's CSP build starts its worker from the
app's own file (no blob: worker, so no worker-src), reads the archive from this
origin (connect-src 'self') and decodes tiles with createImageBitmap (no blob:
images).

One page differs: Swagger UI at /api/docs is flask-smorest's template, which
starts Swagger UI with one inline <script>. That page's policy allows exactly
that script, by its SHA-256 (computed from the page as served), and nothing
else inline; every other page keeps the strict policy.

Headers a view or blueprint set already are kept: the owner pages' stricter
`Referrer-Policy: no-referrer` stays.
"""

from __future__ import annotations

import base64
import hashlib
import re
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, request

#: Pages' referrer: the path goes to this site only, nothing goes elsewhere (a tile server learns no page).
REFERRER_POLICY = "same-origin"
INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)


def tile_origin(tile_url: str) -> str | None:
    """The origin the basemap tiles come from (`{s}` subdomains as a wildcard), or None without tiles."""
    if not tile_url:
        return None
    parts = urlsplit(tile_url.replace("{s}", "*"))
    if parts.scheme not in ("http", "https") or not parts.netloc or "{" in parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


def basemap_tile_url(config) -> str:
    """The XYZ tile URL the maps use: none when the PMTiles basemap is drawn instead (map.js's order)."""
    return "" if config.get("MAP_PMTILES_PATH") else config.get("MAP_TILE_URL", "")


def content_security_policy(tile_url: str = "", script_hashes: tuple[str, ...] = ()) -> str:
    images = ["'self'", "data:"]
    if origin := tile_origin(tile_url):
        images.append(origin)
    scripts = ["'self'", *(f"'sha256-{digest}'" for digest in script_hashes)]
    directives = {
        "default-src": ["'self'"],
        "script-src": scripts,
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": images,
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
    return "; ".join(f"{name} {' '.join(values)}" for name, values in directives.items())


def _inline_script_hashes(response: Response) -> tuple[str, ...]:
    """The SHA-256 of each inline script of the Swagger UI page, as CSP names them."""
    return tuple(
        base64.b64encode(hashlib.sha256(body).digest()).decode() for body in INLINE_SCRIPT.findall(response.get_data())
    )


def _is_api_docs() -> bool:
    return request.endpoint == "api-docs.openapi_swagger_ui"


def add_security_headers(response: Response) -> Response:
    hashes = _inline_script_hashes(response) if _is_api_docs() and not response.is_streamed else ()
    headers = response.headers
    headers.setdefault("Content-Security-Policy", content_security_policy(basemap_tile_url(current_app.config), hashes))
    headers.setdefault("X-Frame-Options", "DENY")  # frame-ancestors for browsers that predate it
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", REFERRER_POLICY)
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    return response


def init_app(app: Flask) -> None:
    # An app-wide after_request runs after the blueprints' own, so what they set is kept.
    app.after_request(add_security_headers)
