"""The header's language switch in headless Chromium: staff keep their choice on their account, across signing out
and in and on every page; an anonymous visitor keeps theirs in a cookie; the browser's own language (en-US here)
never picks the page's."""

from __future__ import annotations

from browser_support import sign_in, wait_for_language
from conftest import SCREENSHOTS

STAFF = "staff.hanoi"  # province staff of Hà Nội (conftest.LiveServer.others)


def _language(page) -> str:
    return page.locator("html").get_attribute("lang")


def _switch_to(page, language: str) -> None:
    before = page.url
    page.click(f"#languages button[data-language={language}]")
    wait_for_language(page, language)
    assert page.url == before  # the switch returns to the same page


def test_staff_keep_their_language_across_signing_out_and_in_and_on_every_page(page, browser, live_server, backend):
    sign_in(page, live_server, STAFF)
    page.goto(f"{live_server.url}/figures")
    assert _language(page) == "vi" and page.locator("header button", has_text="Đăng xuất").count() == 1
    assert page.locator("[data-role]").inner_text() == "Cán bộ tỉnh, thành phố"  # the role in words

    _switch_to(page, "en")
    assert page.locator("h1").inner_text() == "Figures"
    assert page.locator("[data-role]").inner_text() == "Province staff"
    page.click("header a:has-text('Camera coverage map')")
    assert _language(page) == "en" and page.locator("h1").inner_text() == "Security camera coverage map"
    page.screenshot(path=str(SCREENSHOTS / f"languages-map-en-{backend}.png"))

    page.click("header button:has-text('Sign out')")
    page.wait_for_url(f"{live_server.url}/login")
    assert _language(page) == "en"  # this browser's cookie remembers it too

    # Another browser, with no cookie of ours and an English Accept-Language: Vietnamese until the staff sign in,
    # then English, from their account.
    context = browser.new_context(locale="en-US")
    try:
        elsewhere = context.new_page()
        elsewhere.goto(f"{live_server.url}/login")
        assert _language(elsewhere) == "vi" and elsewhere.locator("h1").inner_text() == "Đăng nhập"
        sign_in(elsewhere, live_server, STAFF)
        elsewhere.goto(f"{live_server.url}/")
        assert _language(elsewhere) == "en" and elsewhere.locator("header button", has_text="Sign out").count() == 1
        _switch_to(elsewhere, "vi")  # back to Vietnamese, for the account and for this browser
    finally:
        context.close()

    sign_in(page, live_server, STAFF)
    page.goto(f"{live_server.url}/map")
    assert _language(page) == "vi" and page.locator("h1").inner_text() == "Bản đồ phủ camera an ninh"


def test_an_anonymous_visitors_choice_is_kept_by_a_cookie(page, live_server):
    page.goto(f"{live_server.url}/login")
    assert _language(page) == "vi" and page.locator("main button[type=submit]").inner_text() == "Đăng nhập"
    _switch_to(page, "en")
    assert page.locator("main button[type=submit]").inner_text() == "Sign in"
    page.goto(f"{live_server.url}/no-such-page")
    assert _language(page) == "en" and "Page not found" in page.locator("h1").inner_text()
    page.click("#languages a[hreflang=vi]")  # an error page's switch is a link
    assert _language(page) == "vi" and "Không tìm thấy trang" in page.locator("h1").inner_text()
    page.goto(f"{live_server.url}/login")
    assert _language(page) == "vi"
