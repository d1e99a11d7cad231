"""The per-request database session, shared by the pages and the API.

A request is one unit of work (camera_registry.db): safe methods (GET, HEAD,
OPTIONS) read, the others write, and a view marked `@reads_then_writes`
(an upload streamed for minutes, a password check) reads and runs its own
short write units with `write_unit` instead of holding the write lock.

What a read may leave behind at its leisure (a token's last use) waits for
`after_response`: written once the answer has been sent, in a write unit of
its own tried once, so a busy database delays nobody and fails nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from flask import Flask, Response, current_app, g, has_request_context, request
from sqlalchemy.orm import Session

from .. import db

log = logging.getLogger("camera_registry.http")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
T = TypeVar("T")


def reads_then_writes(view):
    """Mark a view whose request session is a read unit whatever its method; it writes through `write_unit`."""
    view.db_unit = db.READ
    return view


def _request_unit() -> str:
    if not has_request_context():
        return db.WRITE  # CLI commands and app-context scripts
    view = current_app.view_functions.get(request.endpoint)
    marked = getattr(view, "db_unit", None)
    return marked or (db.READ if request.method in SAFE_METHODS else db.WRITE)


def get_session() -> Session:
    """One session per request, closed at teardown."""
    if "db_session" not in g:
        g.db_session = db.open_session(current_app.extensions["session_factory"], _request_unit())
    return g.db_session


def write_unit(work: Callable[[Session], T]) -> T:
    """Run `work` in a short write unit of its own, after ending the request session's read transaction."""
    if "db_session" in g:
        g.db_session.rollback()
    return db.write_unit(current_app.extensions["session_factory"], work)


def after_response(session: Session, write: Callable[[Session], object]) -> None:
    """Best effort, after the answer has been sent: `write` in one write unit, tried once; a failure (SQLite's
    "database is locked" among them) is logged and dropped. Outside a request, as `db.after_read`."""
    if not has_request_context():
        db.after_read(session, write)
        return
    g.setdefault("after_response", []).append(write)


def _write_after_response(response: Response) -> Response:
    writes = g.pop("after_response", None)
    if writes:
        factory = current_app.extensions["session_factory"]
        response.call_on_close(lambda: _write_best_effort(factory, writes))
    return response


def _write_best_effort(factory, writes: list[Callable[[Session], object]]) -> None:
    for write in writes:
        try:
            db.write_unit(factory, write, attempts=1)
        except Exception as error:  # noqa: BLE001 - the answer is out; this write is worth no error
            log.warning("dropped %s after the response: %s", getattr(write, "__qualname__", write), error)


def _receive_body_first() -> None:
    """Read a writing request's whole body before its write unit begins: a slow client must not hold the lock.

    Forms and their files are parsed (werkzeug spools large files to disk); other bodies are read, bounded
    by MAX_CONTENT_LENGTH. Views marked `reads_then_writes` stream their own bodies.
    """
    if request.method in SAFE_METHODS or _request_unit() != db.WRITE:
        return
    if request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        request.form  # noqa: B018 - parsing is the point
    else:
        request.get_data(cache=True)


def _close_session(exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is None:
        return
    if exc is not None:
        session.rollback()
        session.close()
    elif db.is_read_unit(session):
        db.finish_read(current_app.extensions["session_factory"], session)
    else:
        session.close()


def init_app(app: Flask) -> None:
    """Close each request's session at teardown, read a writing request's body before anything opens it, and
    write what `after_response` queued once the answer is out."""
    app.teardown_appcontext(_close_session)
    app.before_request(_receive_body_first)
    app.after_request(_write_after_response)
