"""The language of every answer, by one rule for the pages and one for the API.

Pages: `?lang=vi|en` > the signed-in user's stored language > the `lang` cookie > the reader's language when
the page knows its reader (an owner link's page: the owner's message language) > Vietnamese. The pages never
follow Accept-Language: browsers here send en-US, and the programme is Vietnamese first. A `?lang` on a page
is remembered in the cookie; the header's switch (web/i18n.py) also stores it on the user's account.
The user's stored language is copied into the login session when they sign in or switch, so choosing it
costs no query and an error page can still tell it.

API (/api/..., and the OGC API and tiles for GIS tools): `?lang` > the best match of Accept-Language > English,
for machine clients.

Catalogs are in camera_registry/translations/; `make install` compiles them (pybabel compile).
"""

from __future__ import annotations

from datetime import timedelta

from flask import Flask, Response, current_app, g, request, session
from flask_babel import Babel, get_locale, refresh

from ..services.accounts.languages import PAGE_LANGUAGES

LANGUAGES = PAGE_LANGUAGES
LANGUAGE_COOKIE = "lang"
#: The login session's copy of the signed-in user's stored language.
SESSION_LANGUAGE_KEY = "language"
#: Where machine clients read: the REST API, the OGC API, the vector tiles.
API_PREFIXES = ("/api/", "/ogc", "/tiles/")
API_LANGUAGE = "en"
#: Where a view names its reader's own language (set_reader_language).
READER_LANGUAGE = "reader_language"
COOKIE_DAYS = 365


def _asked() -> str | None:
    asked = request.args.get("lang")
    return asked if asked in LANGUAGES else None


def select_language() -> str:
    """The language of this request's answer (Flask-Babel's locale selector)."""
    if asked := _asked():
        return asked
    if request.path.startswith(API_PREFIXES):
        return request.accept_languages.best_match(LANGUAGES) or API_LANGUAGE
    for stored in (session.get(SESSION_LANGUAGE_KEY), request.cookies.get(LANGUAGE_COOKIE), g.get(READER_LANGUAGE)):
        if stored in LANGUAGES:
            return stored
    return LANGUAGES[0]


def set_reader_language(language: str | None) -> None:
    """Name the language of the page's reader, known once the view found them (None: not known)."""
    g.setdefault(READER_LANGUAGE, language)
    refresh()


def current_language() -> str:
    return get_locale().language


def keep_user_language(language: str | None) -> None:
    """Carry the signed-in user's stored language in their login session (None: they never chose one)."""
    if language in LANGUAGES:
        session[SESSION_LANGUAGE_KEY] = language
    else:
        session.pop(SESSION_LANGUAGE_KEY, None)


def set_language_cookie(response: Response, language: str) -> Response:
    """The browser's remembered language, for the pages it shows signed out."""
    if request.cookies.get(LANGUAGE_COOKIE) != language:
        response.set_cookie(
            LANGUAGE_COOKIE,
            language,
            max_age=int(timedelta(days=COOKIE_DAYS).total_seconds()),
            httponly=True,
            samesite="Lax",
            secure=current_app.config["SESSION_COOKIE_SECURE"],
        )
    return response


def _remember_asked_language(response: Response) -> Response:
    asked = _asked()
    if asked and not request.path.startswith(API_PREFIXES):
        set_language_cookie(response, asked)
    return response


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", LANGUAGES[0])
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "Asia/Ho_Chi_Minh")
    Babel(app, locale_selector=select_language)
    app.after_request(_remember_asked_language)
    app.context_processor(lambda: {"language": current_language()})
