"""The tus 1.0 protocol over HTTP (core, creation, termination, expiration), shared by the owner's link
(/o/<token>/uploads) and the officers' request pages (/requests/<id>/assignments/<id>/uploads).

Glue only: headers in, one call to services/uploads/, headers out. The
routes of each audience say who may upload (`Intake`); this module never
decides that. The request body of a PATCH is read as a stream in pieces and
handed to the service, which writes it to disk with no transaction open.

Refusals map to statuses in one table (STATUS_OF_REASON). tus-js-client
retries 409 (it asks for the offset again), 423 and 5xx, and gives up on the
other 4xx, so a refusal that cannot heal (a wrong type, a dead link) is never
a 409.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

from flask import Response, current_app, request
from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge
from werkzeug.http import http_date

from ..http.units import get_session, write_unit
from ..services.clips import ClipSettings
from ..services.uploads import (
    Intake,
    Progress,
    UploadInterrupted,
    UploadProblem,
    create_upload,
    encode_metadata,
    parse_metadata,
    receive_chunk,
    terminate_upload,
    upload_progress,
)

TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = "creation,termination,expiration"
PATCH_CONTENT_TYPE = "application/offset+octet-stream"
READ_BYTES = 1024 * 1024
#: What the pages' tus client sends per PATCH: few requests (the owner routes are rate-limited per minute), and a
#: dropped one loses nothing (the server keeps what arrived).
CLIENT_CHUNK_BYTES = 16 * 1024 * 1024

STATUS_OF_REASON = {
    "bad_request": 400,
    "empty": 400,
    "clock": 400,
    "not_offered": 403,
    "already_answered": 403,
    "complete": 403,
    "not_found": 404,
    "gone": 410,
    "link_dead": 410,
    "offset": 409,
    "too_large": 413,
    "type": 415,
    "locked": 423,
    "version": 412,
}


def clip_settings() -> ClipSettings:
    return ClipSettings.from_config({**current_app.config, "INSTANCE_PATH": current_app.instance_path})


def tus_view(view):
    """A tus route answers OPTIONS itself (with the protocol's headers), never Flask's automatic answer."""
    view.provide_automatic_options = False
    return view


def _response(status: int, headers: dict | None = None, body: str = "") -> Response:
    response = Response(body, status=status, mimetype="text/plain")
    response.headers["Tus-Resumable"] = TUS_VERSION
    response.headers["Cache-Control"] = "no-store"
    for name, value in (headers or {}).items():
        response.headers[name] = str(value)
    return response


def refused(problem: UploadProblem) -> Response:
    headers = {"Upload-Offset": problem.offset} if problem.offset is not None else {}
    if problem.reason == "version":
        headers["Tus-Version"] = TUS_VERSION
    return _response(
        STATUS_OF_REASON.get(problem.reason, 400),
        headers,
        f"{problem.reason}: {problem.detail}" if problem.detail else problem.reason,
    )


def _expiry(moment: datetime) -> str:
    return http_date(moment)


def options() -> Response:
    """What this server speaks: the version, the extensions, the largest upload."""
    response = _response(
        204, {"Tus-Version": TUS_VERSION, "Tus-Extension": TUS_EXTENSIONS, "Tus-Max-Size": clip_settings().max_bytes}
    )
    return response


def _require_version() -> None:
    if request.headers.get("Tus-Resumable") != TUS_VERSION:
        raise UploadProblem("version", f"this server speaks tus {TUS_VERSION} (send Tus-Resumable)")


def _integer_header(name: str, required: bool = True) -> int | None:
    value = request.headers.get(name)
    if value is None:
        if required:
            raise UploadProblem("bad_request", f"{name} is required")
        return None
    if not value.isdigit():
        raise UploadProblem("bad_request", f"{name} must be a non-negative integer")
    return int(value)


def handle(step: Callable[[], Response]) -> Response:
    """Run one protocol step; a refusal becomes its status, and the request session ends cleanly."""
    try:
        _require_version()
        return step()
    except UploadProblem as problem:
        get_session().rollback()
        return refused(problem)


def create(intake: Callable[[], Intake], location: Callable[[str], str]) -> Response:
    """POST: a new upload of Upload-Length bytes described by Upload-Metadata (filename, filetype, clock)."""

    def step() -> Response:
        settings = clip_settings()
        length = _integer_header("Upload-Length", required=False)
        if length is None and request.headers.get("Upload-Defer-Length"):
            raise UploadProblem("bad_request", "deferred lengths are not supported: send Upload-Length")
        progress = create_upload(
            get_session(),
            intake(),
            length=length,
            metadata=parse_metadata(request.headers.get("Upload-Metadata", "")),
            settings=settings,
        )
        get_session().commit()
        return _response(
            201, {"Location": location(progress.id), "Upload-Offset": 0, "Upload-Expires": _expiry(progress.expires_at)}
        )

    return handle(step)


def status(intake: Callable[[], Intake], upload_id: str) -> Response:
    """HEAD: the bytes kept, never cached."""

    def step() -> Response:
        progress = upload_progress(get_session(), intake(), upload_id)
        return _response(200, _progress_headers(progress, metadata=True))

    return handle(step)


def _progress_headers(progress: Progress, metadata: bool = False) -> dict:
    headers = {
        "Upload-Offset": progress.offset,
        "Upload-Length": progress.length,
        "Upload-Expires": _expiry(progress.expires_at),
    }
    if metadata and progress.metadata:
        headers["Upload-Metadata"] = encode_metadata(progress.metadata)
    return headers


def _body() -> Iterator[bytes]:
    """The request body as it arrives; a client that goes away mid-body is an UploadInterrupted."""
    declared, received = request.content_length, 0
    try:
        stream = request.stream
        while True:
            chunk = stream.read(READ_BYTES)
            if not chunk:
                break
            received += len(chunk)
            yield chunk
    except RequestEntityTooLarge:
        raise UploadProblem("too_large", "the body is larger than the largest upload") from None
    except (ClientDisconnected, ConnectionError, TimeoutError):
        raise UploadInterrupted("the client went away") from None
    if declared is not None and received < declared:  # the body ended early: a server that does not say so
        raise UploadInterrupted(f"the body ended after {received} of {declared} bytes")


def append(intake: Callable[[], Intake], upload_id: str) -> Response:
    """PATCH: bytes at Upload-Offset, as application/offset+octet-stream."""

    def step() -> Response:
        if request.mimetype != PATCH_CONTENT_TYPE:
            return _response(415, body=f"send the bytes as {PATCH_CONTENT_TYPE}")
        settings = clip_settings()
        request.max_content_length = settings.max_bytes
        offset = _integer_header("Upload-Offset")
        try:
            progress = receive_chunk(
                get_session(),
                intake(),
                upload_id,
                offset=offset,
                content_length=request.content_length,
                body=_body(),
                settings=settings,
                write=write_unit,
            )
        except UploadInterrupted:
            return _response(400, body="the upload was interrupted; ask for the offset and go on")
        return _response(204, _progress_headers(progress))

    return handle(step)


def terminate(intake: Callable[[], Intake], upload_id: str) -> Response:
    """DELETE: give the upload up (termination)."""

    def step() -> Response:
        terminate_upload(get_session(), intake(), upload_id, settings=clip_settings())
        get_session().commit()
        return _response(204)

    return handle(step)
