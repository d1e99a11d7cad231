"""Which language a page or an API answer is in: one rule for the pages, one for the API (http/language.py)."""

from __future__ import annotations

import re

from conftest import PASSWORD
from sqlalchemy import select

from camera_registry.http.language import select_language
from camera_registry.models import User

SIGN_IN = "Đăng nhập"


def _csrf(client, path="/login") -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)


def _sign_in(client, username="police.dongda"):
    client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": _csrf(client)})


def _switch(client, language, back="/login"):
    return client.post("/language", data={"lang": language, "next": back, "csrf_token": _csrf(client)})


def test_pages_are_vietnamese_whatever_the_browser_asks(client):
    page = client.get("/login", headers={"Accept-Language": "en-US,en;q=0.9"}).get_data(as_text=True)
    assert '<html lang="vi">' in page and SIGN_IN in page


def test_lang_in_the_address_switches_a_page_and_the_cookie_keeps_it(client):
    response = client.get("/login?lang=en")
    assert '<html lang="en">' in response.get_data(as_text=True) and "lang=en" in response.headers["Set-Cookie"]
    assert '<html lang="en">' in client.get("/login").get_data(as_text=True)


def test_the_switch_stores_the_choice_on_the_account_and_returns_to_the_page(client, session, police):
    _sign_in(client)
    response = _switch(client, "en", back="/figures?commune=A")
    assert response.status_code == 302 and response.headers["Location"] == "/figures?commune=A"
    assert session.scalar(select(User.language).where(User.id == police.id)) == "en"
    assert '<html lang="en">' in client.get("/login").get_data(as_text=True)


def test_a_users_stored_language_beats_the_browsers_cookie(client, session, police):
    police.language = "en"
    session.commit()
    client.set_cookie("lang", "vi")
    _sign_in(client)
    assert '<html lang="en">' in client.get("/login").get_data(as_text=True)


def test_an_anonymous_switch_is_kept_by_the_cookie(client):
    response = _switch(client, "en")
    assert response.status_code == 302 and "lang=en" in response.headers["Set-Cookie"]
    assert '<html lang="en">' in client.get("/login").get_data(as_text=True)


def test_the_switch_refuses_an_unknown_language_and_stays_on_the_site(client):
    assert _switch(client, "fr").status_code == 400
    assert _switch(client, "en", back="https://evil.example").headers["Location"] == "/"


def test_the_api_follows_lang_then_accept_language_then_english(app):
    def language_of(path, **headers):
        with app.test_request_context(path, headers=headers):
            return select_language()

    assert language_of("/api/v1/lenses") == "en"
    assert language_of("/api/v1/lenses", **{"Accept-Language": "vi-VN,vi;q=0.9,en;q=0.5"}) == "vi"
    assert language_of("/api/v1/lenses", **{"Accept-Language": "fr"}) == "en"
    assert language_of("/api/v1/lenses?lang=vi", **{"Accept-Language": "en"}) == "vi"
    assert language_of("/login", **{"Accept-Language": "en"}) == "vi"
