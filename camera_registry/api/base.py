"""What every API blueprint shares: sign-in, CSRF for cookie sessions, paging, commit."""
from __future__ import annotations

from flask import request
from flask_smorest import Blueprint

from ..services.access import Actor
from ..services.errors import NotAuthenticated
from ..services.listing import Page
from ..web import get_session
from ..web.auth import current_actor, require_csrf_for_cookie_auth

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
PAGE_SIZE, MAX_PAGE_SIZE = 50, 500


def require_actor() -> Actor:
    actor = current_actor()
    if actor is None:
        raise NotAuthenticated("sign in, or send 'Authorization: Bearer <token>'")
    return actor


def api_blueprint(name: str, import_name: str, path: str, description: str) -> Blueprint:
    """A resource blueprint under /api/v1 whose every route needs a signed-in actor."""
    blueprint = Blueprint(name, import_name, url_prefix=f"/api/v1/{path}", description=description)

    @blueprint.before_request
    def _authenticate() -> None:
        require_actor()
        if request.method not in SAFE_METHODS:
            require_csrf_for_cookie_auth()

    return blueprint


def paginate(blueprint: Blueprint):
    return blueprint.paginate(page_size=PAGE_SIZE, max_page_size=MAX_PAGE_SIZE)


def page_items(pagination_parameters, page: Page) -> list:
    pagination_parameters.item_count = page.total
    return page.items


def committed(result):
    """Commit the request's unit of work and hand back what the view renders."""
    get_session().commit()
    return result


def session():
    return get_session()


__all__ = ["api_blueprint", "committed", "page_items", "paginate", "require_actor", "session"]
