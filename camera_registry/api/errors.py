"""One JSON shape for every API error: {"code": "...", "message": "...", "errors": {field: [reasons]}},
plus "current" on a 409 that knows what is stored now ({"version": 3, "status": "declined"}) so the
client can reload or retry from it.

A domain error's status is the one table's (camera_registry.http.statuses), which the pages use too."""

from __future__ import annotations

import marshmallow as ma
from flask import g, jsonify
from werkzeug.exceptions import HTTPException

from ..http.messages import http_error_message, translated, translated_errors
from ..http.statuses import status_of
from ..services.errors import DomainError
from ..services.messages import field_refusal

CODE_OF_STATUS = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
}


class CurrentStateSchema(ma.Schema):
    version = ma.fields.Integer(metadata={"description": "the version stored now: send it (or its ETag) to retry"})
    status = ma.fields.String(metadata={"description": "the state stored now (requests and assignments)"})


class ErrorSchema(ma.Schema):
    """Every API error (documentation only: `error_body` writes it)."""

    code = ma.fields.String(
        required=True,
        metadata={
            "description": "machine-readable reason, e.g. validation_failed, stale_version, illegal_transition, "
            "conflict"
        },
    )
    message = ma.fields.String(required=True, metadata={"description": "what went wrong, for people"})
    errors = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.List(ma.fields.String()),
        required=True,
        metadata={"description": "field -> list of reasons (empty when no field is to blame)"},
    )
    request_id = ma.fields.String(
        metadata={"description": "this request's id (the X-Request-Id header), to find it in the service's logs"}
    )
    current = ma.fields.Nested(
        CurrentStateSchema,
        metadata={"description": "on a 409 about a stale version or an illegal step: what is stored now"},
    )


def error_body(
    status: int, message: str, errors: dict | None = None, code: str | None = None, current: dict | None = None
):
    body = {"code": code or CODE_OF_STATUS.get(status, "error"), "message": message, "errors": errors or {}}
    if g.get("request_id"):
        body["request_id"] = g.request_id  # the X-Request-Id of this answer, to find its log line
    if current:
        body["current"] = current
    response = jsonify(body)
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="camera_registry"'
    return response


def domain_error(error: DomainError):
    """`error` in the request's language: its message and every reason."""
    return error_body(
        status_of(error),
        translated(error.message),
        translated_errors(error.errors),
        error.code,
        getattr(error, "current", None),
    )


def _flatten(errors, prefix: str = "") -> dict[str, list[str]]:
    """webargs nests errors by location and field; callers want field -> reasons."""
    flat: dict[str, list[str]] = {}
    if isinstance(errors, dict):
        for key, value in errors.items():
            name = str(key) if key not in ("json", "query", "form", "files", "headers", "view_args") or prefix else ""
            flat.update(_flatten(value, f"{prefix}.{name}" if prefix and name else (name or prefix)))
    elif isinstance(errors, list) and all(isinstance(item, str) for item in errors):
        flat[prefix or "_schema"] = list(errors)
    else:
        flat[prefix or "_schema"] = [str(errors)]
    return flat


def describe_http_error(error: HTTPException) -> tuple[str, dict[str, list[str]]]:
    """The message and per-field reasons of an HTTP error (webargs puts them in `data`), in the request's
    language."""
    data = getattr(error, "data", None) or {}
    errors = translated_errors(_flatten(data.get("messages") or data.get("errors") or {}))
    if errors:
        return "; ".join(
            translated(field_refusal(field, " ".join(reasons))) for field, reasons in errors.items()
        ), errors
    return translated(data["message"]) if data.get("message") else http_error_message(error), errors


def with_error_headers(response, error: HTTPException):
    """`response` with the headers the HTTP error carries: a 405's Allow (RFC 9110 requires it)."""
    for name, value in error.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def http_error(error: HTTPException):
    message, errors = describe_http_error(error)
    return with_error_headers(error_body(error.code or 500, message, errors), error)
