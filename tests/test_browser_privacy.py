"""Headless Chromium on a phone: an owner opens their link, follows the footer to the privacy notice and reads it
in Vietnamese, then in English, with no horizontal scroll."""

from __future__ import annotations

from browser_support import owner_link_on


def fits_the_screen(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_an_owner_reads_the_privacy_notice_from_their_link(phone, live_server):
    token = owner_link_on(live_server)
    phone.goto(f"{live_server.url}/o/{token}")
    with phone.expect_navigation():
        phone.click("#privacy-footer a")
    assert phone.url.endswith("/privacy?lang=vi")
    assert phone.inner_text("h1") == "Dữ liệu cá nhân của ông/bà trong sổ camera an ninh"
    assert "Dữ liệu cá nhân của ông/bà" in phone.inner_text("#how-to-ask + ul")
    assert phone.locator("#retention li").count() >= 3 and fits_the_screen(phone)

    with phone.expect_navigation():
        phone.click("#languages a")
    assert phone.inner_text("h1") == "Your personal data in the security camera register"
    assert "Your personal data" in phone.inner_text("#how-to-ask + ul") and fits_the_screen(phone)
    assert phone.foreign_requests == []
