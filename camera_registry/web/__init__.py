"""Server-rendered pages, and the per-request database session they share."""
from __future__ import annotations

from flask import Flask, current_app, g
from sqlalchemy.orm import Session


def get_session() -> Session:
    """One session per request, closed at teardown."""
    if "db_session" not in g:
        g.db_session = current_app.extensions["session_factory"]()
    return g.db_session


def _close_session(exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        if exc is not None:
            session.rollback()
        session.close()


def init_app(app: Flask) -> None:
    from . import auth, coverage, i18n, owner, requests, timefmt
    from .pages import blueprint

    app.teardown_appcontext(_close_session)
    auth.init_app(app)
    timefmt.init_app(app)
    i18n.init_app(app)
    app.register_blueprint(blueprint)
    app.register_blueprint(requests.blueprint)
    app.register_blueprint(coverage.blueprint)
    owner.init_app(app)
