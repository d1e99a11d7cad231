"""Real headless Chromium against a live server: sign in, the front page, the API docs.

Screenshots go to build/screenshots/ for a person to look at."""

from __future__ import annotations

from conftest import SCREENSHOTS


def test_police_sign_in_and_read_the_api_docs(page, live_server, backend):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.goto(f"{live_server.url}/login")
    page.fill("input[name=username]", live_server.username)
    page.fill("input[name=password]", "wrong password")
    page.click("main button[type=submit]")
    assert "Sai tên đăng nhập hoặc mật khẩu" in page.content()

    page.fill("input[name=username]", live_server.username)
    page.fill("input[name=password]", live_server.password)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{live_server.url}/requests")  # police land on their requests
    page.goto(f"{live_server.url}/")
    assert page.locator("[data-role]").inner_text() == "Công an xã, phường"  # the role in words, not its code
    # The front page lists the police's own commune only: not Xã Chí Đám of Phú Thọ.
    assert page.locator("tr[data-commune]").count() == 1
    assert page.locator("tr[data-commune='00235']").count() == 1
    page.screenshot(path=str(SCREENSHOTS / f"front-page-{backend}.png"), full_page=True)

    # The session cookie signs the API in, too: the docs can try requests.
    me = page.request.get(f"{live_server.url}/api/v1/users/me").json()
    assert me["username"] == live_server.username

    page.goto(f"{live_server.url}/api/docs")
    page.wait_for_selector(".swagger-ui .opblock-tag", timeout=15_000)
    assert page.locator(".swagger-ui .info .title").inner_text().startswith("Camera registry")
    assert page.locator("#operations-tag-lenses").count() == 1
    page.screenshot(path=str(SCREENSHOTS / f"api-docs-{backend}.png"))
    assert page.foreign_requests == []

    page.goto(f"{live_server.url}/")
    page.click("header button:has-text('Đăng xuất')")
    page.wait_for_url(f"{live_server.url}/login")
    assert page.locator("header a", has_text="Đăng nhập").count() == 1
    assert page.request.get(f"{live_server.url}/api/v1/users/me").status == 401
