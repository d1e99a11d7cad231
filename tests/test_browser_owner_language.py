"""Headless Chromium: an owner chooses English for their messages on their link's page, and their link then opens
in English on any phone, while the page's own language switch still wins on the phone where it is pressed."""

from __future__ import annotations

from browser_support import PHONE, owner_link_on
from conftest import _watched_page
from sqlalchemy import select
from sqlalchemy.orm import Session

from camera_registry.db import make_engine
from camera_registry.models import OwnerLink
from camera_registry.services.owner_links import token_hash


def _owner_language(live_server, token: str) -> str | None:
    engine = make_engine(live_server.database_url)
    with Session(engine) as session:
        link = session.scalar(select(OwnerLink).where(OwnerLink.token_hash == token_hash(token)))
        language = link.owner.language
    engine.dispose()
    return language


def test_an_owner_chooses_english_and_their_link_opens_in_english(phone, browser, live_server):
    token = owner_link_on(live_server)
    phone.goto(f"{live_server.url}/o/{token}")
    assert phone.get_attribute("html", "lang") == "vi"
    assert phone.is_checked("#contact-form input[name=message_language][value=vi]")

    phone.check("#contact-form input[name=message_language][value=en]")
    with phone.expect_navigation():
        phone.click("#contact-form button[type=submit]")
    assert _owner_language(live_server, token) == "en"
    assert phone.get_attribute("html", "lang") == "en"  # the page follows the owner's language now
    with phone.expect_navigation():
        phone.click("#languages a[hreflang=vi]")
    assert phone.get_attribute("html", "lang") == "vi"
    phone.goto(f"{live_server.url}/o/{token}")
    assert phone.get_attribute("html", "lang") == "vi"  # the switch, remembered on this phone, wins

    with _watched_page(browser, viewport=PHONE, is_mobile=True, has_touch=True) as other:
        other.goto(f"{live_server.url}/o/{token}")
        assert other.get_attribute("html", "lang") == "en"
        assert other.inner_text("h1") == "Footage request from the police"
        assert other.is_checked("#contact-form input[name=message_language][value=en]")
        assert other.script_errors == [], other.script_errors
