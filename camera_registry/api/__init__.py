"""The REST API under /api/v1 (flask-smorest): OpenAPI at /api/openapi.json, docs at /api/docs."""

from __future__ import annotations

from flask import Flask, make_response, render_template_string, request
from flask_smorest import Api
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException

from ..db import is_retryable, report_retryable
from ..http.messages import http_error_message, translated
from ..http.statuses import as_domain_error, status_of
from ..services.errors import DomainError
from .errors import ErrorSchema, domain_error, error_body, http_error

API_PREFIX = "/api/"
TILES_PREFIX = "/tiles/"
OGC_PREFIX = "/ogc"
BUSY_RETRY_AFTER_SECONDS = 2
SETTINGS = {
    "API_TITLE": "Camera registry",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/api",
    "OPENAPI_JSON_PATH": "openapi.json",
    "OPENAPI_SWAGGER_UI_PATH": "/docs",
    # Served by the app from the npm package installed at set-up (make assets): no CDN.
    "OPENAPI_SWAGGER_UI_URL": "/static/vendor/swagger-ui/",
    "API_SPEC_OPTIONS": {
        "info": {"description": "Registry of community security cameras (Camera an ninh) and footage requests."},
        "security": [{"bearerAuth": []}, {"cookieAuth": []}],
    },
}

#: A page's error (not the API's): web/templates/error.html, found by name so the API needs nothing of the pages.
PLAIN_ERROR_PAGE = '{% include "error.html" %}'


class RegistryApi(Api):
    """JSON errors for the API, plain pages for everything else."""

    ERROR_SCHEMA = ErrorSchema  # the OpenAPI "Error" component: the one shape error_body writes

    def handle_http_exception(self, error: HTTPException):
        """Also for errors no route's own handler sees (a path no route matches, a method it does not take):
        the API's JSON shape under /api and /tiles, an OGC exception document under /ogc."""
        if request.path.startswith((API_PREFIX, TILES_PREFIX)):
            return http_error(error)
        if request.path == OGC_PREFIX or request.path.startswith(f"{OGC_PREFIX}/"):
            from .ogc import http_exception

            return http_exception(error)
        return render_template_string(
            PLAIN_ERROR_PAGE, code=error.code, name=error.name, description=http_error_message(error)
        ), error.code


def _domain_error(error: DomainError):
    if request.path.startswith(API_PREFIX):
        return domain_error(error)
    status = status_of(error)
    return render_template_string(
        PLAIN_ERROR_PAGE, code=status, name=error.code.replace("_", " "), description=translated(error.message)
    ), status


def _database_error(error: DBAPIError):
    """A unique key a concurrent insert took is the Conflict it stands for (409); a lock not had in time
    (or a transaction PostgreSQL aborted to resolve a conflict) is 503, try again; anything else is a 500."""
    conflict = as_domain_error(error)
    if conflict is not None:
        return _domain_error(conflict)
    if not is_retryable(error):
        raise error
    report_retryable(error, "answered_503")  # counted in /metrics
    message = "the database is busy; try again in a moment"
    if request.path.startswith(API_PREFIX):
        response = error_body(503, message, code="database_busy")
    else:
        response = make_response(
            render_template_string(
                PLAIN_ERROR_PAGE,
                code=503,
                name="Service Unavailable",
                description=None,  # the page's title says it all
            ),
            503,
        )
    response.headers["Retry-After"] = str(BUSY_RETRY_AFTER_SECONDS)
    return response


def init_app(app: Flask) -> None:
    from . import (
        admin_units,
        cameras,
        clips,
        commitments,
        consents,
        coverage,
        geojson,
        imports,
        ogc,
        owners,
        requests,
        sites,
        stats,
        subject_requests,
        supervision_groups,
        tiles,
        users,
    )

    for key, value in SETTINGS.items():
        app.config.setdefault(key, value)
    api = RegistryApi(app)
    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    api.spec.components.security_scheme("cookieAuth", {"type": "apiKey", "in": "cookie", "name": "session"})
    for blueprint in (
        admin_units.blp,
        sites.blp,
        owners.blp,
        cameras.recorders_blp,
        cameras.lenses_blp,
        commitments.blp,
        imports.blp,
        requests.requests_blp,
        requests.assignments_blp,
        users.blp,
        stats.blp,
        supervision_groups.blp,
        coverage.blp,
        clips.blp,
        subject_requests.blp,
        consents.blp,
    ):
        api.register_blueprint(blueprint)
    for blueprint in (ogc.blp, tiles.blp):  # the open GIS formats, outside /api/v1, with their own error shapes
        api.register_blueprint(blueprint)
    geojson.init_app(app)  # JSON bodies nested too deep are refused before any view parses them
    app.register_error_handler(DomainError, _domain_error)
    app.register_error_handler(DBAPIError, _database_error)
    app.extensions["registry_api"] = api
