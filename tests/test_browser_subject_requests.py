"""Headless Chromium on a phone: an owner asks through their link, in Vietnamese, to see their data, follows the
request, and reads the export once the police have completed it; then the officer sees it on the staff page."""

from __future__ import annotations

from browser_support import on_live_database, owner_link_on, sign_in
from conftest import SCREENSHOTS
from sqlalchemy import select

from camera_registry.models import OwnerLink, SubjectRequest, SubjectRequestChannel
from camera_registry.services.owner_links import token_hash


def test_an_owner_asks_for_their_data_through_the_link_and_reads_it(phone, page, live_server, backend):
    token = owner_link_on(live_server)
    phone.goto(f"{live_server.url}/o/{token}")
    with phone.expect_navigation():
        phone.click("#personal-data-link a")
    assert phone.inner_text("h1") == "Dữ liệu cá nhân của ông/bà"
    assert phone.locator("#no-data-requests").count() == 1
    phone.check("#data-request-form input[value=access]")
    phone.fill("#data-request-form textarea[name=details]", "Tôi muốn biết công an lưu gì về tôi")
    with phone.expect_navigation():
        phone.click("#data-request-form button[type=submit]")
    assert "đã được tiếp nhận" in phone.inner_text("#filed")
    [item] = phone.locator("#data-requests li").all()
    assert item.get_attribute("data-status") == "received" and "Đã tiếp nhận" in item.inner_text()
    phone.screenshot(path=str(SCREENSHOTS / f"owner-data-request-{backend}.png"), full_page=True)

    def filed_through_the_link(session):
        link = session.scalar(select(OwnerLink).where(OwnerLink.token_hash == token_hash(token)))
        found = session.scalar(select(SubjectRequest).where(SubjectRequest.owner_id == link.owner_id))
        assert (found.channel, found.filed_through_link_id) == (SubjectRequestChannel.OWNER_LINK, link.id)
        return found.id, link.owner.name

    request_id, owner_name = on_live_database(live_server, filed_through_the_link)
    sign_in(page, live_server, live_server.username)
    with page.expect_navigation():
        page.click("header a:has-text('Yêu cầu về dữ liệu cá nhân')")  # the police's way in, from every page
    row = page.locator(f'#subject-requests tr[data-request="{request_id}"]')
    assert "Tôi muốn biết công an lưu gì về tôi" in row.inner_text()
    with page.expect_navigation():
        row.locator('form[data-step="acknowledge"] button').click()
    with page.expect_navigation():
        page.locator(f'#subject-requests tr[data-request="{request_id}"] form[data-step="complete"] button').click()
    assert page.get_attribute(f'#subject-requests tr[data-request="{request_id}"]', "data-status") == "completed"

    phone.reload()
    with phone.expect_navigation():
        phone.click(f"#export-{request_id}")
    assert phone.inner_text("h1") == "Dữ liệu đang lưu về ông/bà"
    assert owner_name in phone.inner_text("#export-owner")
    assert phone.locator("#export-recorders > li").count() >= 1
    phone.screenshot(path=str(SCREENSHOTS / f"owner-data-export-{backend}.png"), full_page=True)
