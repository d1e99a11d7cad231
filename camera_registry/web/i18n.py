"""The language switch in every page's header: a CSRF-checked POST that stores the choice and returns to the page.

The choice goes on the signed-in user's account (so it follows them to another browser and survives signing
out and in) and in the `lang` cookie (so the pages shown signed out keep it). The rule that picks a request's
language is camera_registry/http/language.py.
"""

from __future__ import annotations

from urllib.parse import urlencode

import marshmallow as ma
from flask import Blueprint, Flask, abort, has_request_context, redirect, request
from flask_babel import gettext as _

from ..http import language
from ..http.actor import bearer_secret, current_actor
from ..http.language import LANGUAGES, keep_user_language, set_language_cookie
from ..http.messages import translated, translated_errors
from ..http.units import get_session
from ..services.accounts.languages import choose_language
from ..services.errors import DomainError
from ..services.messages import domain_term
from .auth import local_path

blueprint = Blueprint("languages", __name__)

#: What each language is called in the switch, in its own language.
LANGUAGE_NAMES = {"vi": "Tiếng Việt", "en": "English"}


@blueprint.post("/language")
def switch():
    chosen = request.form.get("lang")
    if chosen not in LANGUAGES:
        abort(400, _("The language must be one of: %(languages)s.", languages=", ".join(LANGUAGES)))
    actor = current_actor()
    if actor is not None and actor.user_id is not None and bearer_secret() is None:
        db = get_session()
        choose_language(db, actor, chosen)
        db.commit()
        keep_user_language(chosen)
    return set_language_cookie(redirect(local_path(request.form.get("next"))), chosen)


def form_errors(error: ma.ValidationError | DomainError) -> dict[str, list[str]]:
    """What a page shows of a refusal, in the page's language: the reasons by field ("_": the whole form's)."""
    errors = error.messages if isinstance(error, ma.ValidationError) else error.errors or {"_": [error.message]}
    return translated_errors(errors)


def field_name(name: str) -> str:
    """A field as a page names it beside its reason: words in Vietnamese, the API's identifier in English."""
    return translated(domain_term(name))


def _this_page() -> str:
    """Where the switch returns to: this page without its `?lang`, or the front page after a form's POST."""
    if not has_request_context() or request.method != "GET":
        return "/"
    kept = [(name, value) for name, value in request.args.items(multi=True) if name != "lang"]
    return f"{request.path}?{urlencode(kept)}" if kept else request.path


def init_app(app: Flask) -> None:
    language.init_app(app)  # the language of every answer, the API's too
    app.register_blueprint(blueprint)
    app.context_processor(
        lambda: {"language_names": LANGUAGE_NAMES, "language_return": _this_page(), "field_name": field_name}
    )
