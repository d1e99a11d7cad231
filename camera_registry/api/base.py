"""What every API blueprint shares: sign-in, CSRF for cookie sessions, paging, commit."""

from __future__ import annotations

from collections.abc import Callable
from copy import deepcopy
from functools import wraps

import marshmallow as ma
from flask import request
from flask_smorest import Blueprint
from flask_smorest.pagination import PaginationMetadataSchema

from ..http.actor import current_actor, require_csrf_for_cookie_auth
from ..http.units import get_session
from ..schemas.base import InputSchema
from ..schemas.fields import MAX_INT
from ..services.access import Actor
from ..services.errors import NotAuthenticated
from ..services.listing import Page
from ..services.messages import refusal

PAGE_SIZE, MAX_PAGE_SIZE = 50, 500
#: No list has 2^31 pages; beyond this the offset would overflow the databases' integers (a 500 before).
MAX_PAGE = MAX_INT

#: X-Pagination as it is sent: one header whose value is a JSON object (OpenAPI 3 describes such a
#: header with `content`, not with `schema`, which would mean the `simple` style k,v,k,v).
PAGINATION_HEADER = {
    "description": "where this page lies in the list, as a JSON object; first_page, last_page, page, previous_page "
    "and next_page appear only where they exist (none for an empty list)",
    "content": {"application/json": {"schema": PaginationMetadataSchema}},
}


class PageQuerySchema(InputSchema):
    """page and page_size, both bounded (flask-smorest leaves page unbounded)."""

    class Meta:
        unknown = ma.EXCLUDE

    page = ma.fields.Integer(load_default=1, validate=ma.validate.Range(min=1, max=MAX_PAGE))
    page_size = ma.fields.Integer(load_default=PAGE_SIZE, validate=ma.validate.Range(min=1, max=MAX_PAGE_SIZE))


class ApiBlueprint(Blueprint):
    """A flask-smorest Blueprint whose X-Pagination is documented as sent."""

    def _document_pagination_metadata(self, spec, resp_doc):
        resp_doc.setdefault("headers", {})[self.PAGINATION_HEADER_NAME] = deepcopy(PAGINATION_HEADER)


def require_actor() -> Actor:
    actor = current_actor()
    if actor is None:
        raise NotAuthenticated(refusal("sign in, or send 'Authorization: Bearer <token>'"))
    return actor


def api_blueprint(name: str, import_name: str, path: str, description: str) -> Blueprint:
    """A resource blueprint under /api/v1 whose every route needs a signed-in actor."""
    blueprint = ApiBlueprint(name, import_name, url_prefix=f"/api/v1/{path}", description=description)

    @blueprint.before_request
    def _authenticate() -> None:
        require_actor()
        require_csrf_for_cookie_auth()

    return blueprint


def paginate(blueprint: Blueprint):
    """flask-smorest's pagination (X-Pagination, `pagination_parameters`), with the page number bounded: the
    bounds are checked (422) before flask-smorest reads the page, and documented in place of its schema."""
    paginated = blueprint.paginate(page_size=PAGE_SIZE, max_page_size=MAX_PAGE_SIZE)

    def decorator(view):
        inner = paginated(view)

        @wraps(inner)
        def bounded(*args, **kwargs):
            blueprint.PAGINATION_ARGUMENTS_PARSER.parse(PageQuerySchema, request, location="query")
            return inner(*args, **kwargs)

        bounded._apidoc = deepcopy(inner._apidoc)
        bounded._apidoc["pagination"]["parameters"]["schema"] = PageQuerySchema
        return bounded

    return decorator


def page_of(pagination_parameters, lister: Callable[..., Page], *args, **filters) -> list:
    """The page asked for of what a service's `lister` finds; its total goes to X-Pagination."""
    found = lister(*args, **filters, page=pagination_parameters.page, page_size=pagination_parameters.page_size)
    pagination_parameters.item_count = found.total
    return found.items


def committed(result):
    """Commit the request's unit of work and hand back what the view renders."""
    get_session().commit()
    return result


def session():
    return get_session()


__all__ = ["api_blueprint", "committed", "page_of", "paginate", "require_actor", "session"]
