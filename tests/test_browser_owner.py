"""Headless Chromium on a phone-sized screen: an owner opens their link, reads the request and consents."""

from __future__ import annotations

from browser_support import DUTY_PHONE, PHONE, owner_link_on
from conftest import SCREENSHOTS


def no_horizontal_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_an_owner_consents_on_a_phone(phone, live_server, backend):
    token = owner_link_on(live_server)
    phone.goto(f"{live_server.url}/o/{token}")
    assert phone.inner_text("h1") == "Yêu cầu cung cấp dữ liệu camera của công an"
    assert "Điều 145 BLTTHS 2015" in phone.inner_text("#legal-basis")
    assert phone.locator("#lenses li").count() >= 1 and phone.inner_text("#keep-until")
    assert DUTY_PHONE in phone.inner_text("#police-contact")
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert no_horizontal_scroll(phone)
    phone.screenshot(path=str(SCREENSHOTS / f"owner-request-{backend}.png"), full_page=True)

    phone.check("#consent-form input[value=police_copy]")
    with phone.expect_navigation():
        phone.click("#consent-form button[type=submit]")
    assert phone.get_attribute("#answer", "data-answer") == "consent"
    assert "Câu trả lời của ông/bà đã được ghi nhận" in phone.inner_text("#answer")
    assert phone.locator("#consent-form").count() == 0
    assert no_horizontal_scroll(phone)
    phone.screenshot(path=str(SCREENSHOTS / f"owner-consented-{backend}.png"), full_page=True)

    phone.click("#languages a")
    assert "Your answer has been recorded" in phone.inner_text("#answer")
    assert no_horizontal_scroll(phone)
