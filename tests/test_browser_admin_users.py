"""The admins' account pages in headless Chromium (issue 15, item 2): demo.admin creates a commune police account,
its officer signs in with the password shown once, the admin resets it and the officer's session ends; in
Vietnamese and in English."""

from __future__ import annotations

import pytest
from conftest import SCREENSHOTS
from sqlalchemy import select
from sqlalchemy.orm import Session

from camera_registry.db import make_engine
from camera_registry.models import Role, User
from camera_registry.services import accounts
from camera_registry.services.access import SYSTEM

ADMIN = "demo.admin"

#: What each language's pages say, where the test reads it.
WORDS = {
    "vi": {
        "accounts": "Tài khoản cán bộ",
        "typed_missing": "hãy nhập mật khẩu, hoặc chọn mật khẩu tự tạo",
        "created": "Đã tạo tài khoản",
        "copied": "Đã sao chép",
        "role": "công an xã",
        "reset": "Đã đặt lại mật khẩu",
        "never": "chưa bao giờ",
    },
    "en": {
        "accounts": "Staff accounts",
        "typed_missing": "type the password, or choose a generated one",
        "created": "Account created",
        "copied": "Copied",
        "role": "commune police",
        "reset": "Password reset",
        "never": "never",
    },
}


@pytest.fixture(scope="module")
def demo_admin(live_server):
    """The sample's administrator, demo.admin, signing in with the live server's password."""
    engine = make_engine(live_server.database_url)
    with Session(engine) as session:
        if session.scalar(select(User.id).where(User.username == ADMIN)) is None:
            accounts.create_user(session, SYSTEM, ADMIN, live_server.password, Role.ADMIN, None, "Quản trị (demo)")
            session.commit()
    engine.dispose()
    return ADMIN


def sign_in_as(page, live_server, username, password):
    page.goto(f"{live_server.url}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("main button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)


def shown_once(page, words) -> str:
    """The one-time password on the page; its copy button puts it on the clipboard."""
    password = page.inner_text("#one-time-password")
    page.click("button.copy")
    page.wait_for_selector(f"button.copy:has-text('{words['copied']}')")
    assert page.evaluate("navigator.clipboard.readText()") == password
    return password


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_an_admin_creates_a_police_account_and_a_reset_ends_its_session(
    page, phone, live_server, demo_admin, backend, lang
):
    words, username = WORDS[lang], f"police.moi.{lang}"
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    sign_in_as(page, live_server, demo_admin, live_server.password)
    page.goto(f"{live_server.url}/admin?lang={lang}")
    page.click(f"#admin-pages a:has-text('{words['accounts']}')")
    page.wait_for_url(f"{live_server.url}/admin/users")
    page.click("#new-user")

    page.fill("#username", username)
    page.fill("#full_name", "Phạm Thị Mới")
    page.select_option("#role", "commune_police")
    page.fill("#admin_unit_code", "00235")
    page.check("input[name=password_choice][value=typed]")  # but typed none: refused beside the field
    page.click("#new-user-form button[type=submit]")
    assert page.inner_text("[data-error=password]") == words["typed_missing"]
    assert page.input_value("#username") == username  # the form comes back as it was filled in
    page.check("input[name=password_choice][value=generate]")
    page.click("#new-user-form button[type=submit]")
    assert page.inner_text("h1") == words["created"]
    first_password = shown_once(page, words)
    page.screenshot(path=str(SCREENSHOTS / f"admin-user-created-{lang}-{backend}.png"))

    sign_in_as(phone, live_server, username, first_password)
    assert phone.url == f"{live_server.url}/requests"  # commune police land on their requests

    page.goto(f"{live_server.url}/admin/users/{username}")
    assert page.inner_text("#account [data-role]") == words["role"] and "Đống Đa" in page.inner_text(
        "#account [data-binding]"
    )
    page.click("#password-reset button[type=submit]")
    assert page.inner_text("h1") == words["reset"]
    new_password = shown_once(page, words)
    assert new_password != first_password

    phone.reload()
    assert "/login" in phone.url  # the officer's old session ended with the reset
    phone.fill("input[name=username]", username)
    phone.fill("input[name=password]", first_password)
    phone.click("main button[type=submit]")
    assert "/login" in phone.url
    sign_in_as(phone, live_server, username, new_password)

    page.goto(f"{live_server.url}/admin/users?binding=00235&role=commune_police")
    row = page.locator(f"tr[data-username='{username}']")
    assert words["role"] in row.inner_text() and "Phường Đống Đa" in row.inner_text()
    assert words["never"] not in row.inner_text()  # its last sign-in is listed
    page.screenshot(path=str(SCREENSHOTS / f"admin-users-{lang}-{backend}.png"))
