"""Languages of the owner's pages: Vietnamese by default, English on request.

`?lang=en` or `?lang=vi` picks the language and a cookie remembers it, so the
forms posted from the page and the page after them keep it. Catalogs are in
camera_registry/translations/; `make install` compiles them (pybabel compile).
"""

from __future__ import annotations

from datetime import timedelta

from flask import Flask, Response, current_app, request
from flask_babel import Babel, get_locale

LANGUAGES = ("vi", "en")
LANGUAGE_COOKIE = "lang"


def select_language() -> str:
    asked = request.args.get("lang")
    if asked in LANGUAGES:
        return asked
    remembered = request.cookies.get(LANGUAGE_COOKIE)
    return remembered if remembered in LANGUAGES else LANGUAGES[0]


def current_language() -> str:
    return get_locale().language


def remember_language(response: Response) -> Response:
    asked = request.args.get("lang")
    if asked in LANGUAGES and request.cookies.get(LANGUAGE_COOKIE) != asked:
        response.set_cookie(
            LANGUAGE_COOKIE,
            asked,
            max_age=int(timedelta(days=365).total_seconds()),
            httponly=True,
            samesite="Lax",
            secure=current_app.config["SESSION_COOKIE_SECURE"],
        )
    return response


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", LANGUAGES[0])
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "Asia/Ho_Chi_Minh")
    Babel(app, locale_selector=select_language)
