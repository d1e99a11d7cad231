"""The whole loop in headless Chromium: police open a request, the owner's message carries
the link, the owner consents on a phone, police record the footage, the request resolves."""

from __future__ import annotations

import re

from browser_support import (
    PHONE,
    click_map_at,
    point_in_front_of_a_lens,
    receive_an_officers_copy,
    sign_in,
    small_clip,
    wait_until,
)
from conftest import SCREENSHOTS, WEBHOOK_SECRET

from camera_registry.services.delivery import deliver_due
from camera_registry.services.notifications import NotificationSettings

LINK = re.compile(r"https?://\S+/o/[A-Za-z0-9_-]+")


def test_police_to_owner_and_back(page, phone, live_server, webhook_receiver, backend, tmp_path):
    lon, lat = point_in_front_of_a_lens(live_server.database_url)
    sign_in(page, live_server, live_server.username)
    page.goto(f"{live_server.url}/requests/new")
    page.fill("#case_ref", "VV-2026-200")
    page.fill("#reason", "Cướp giật tài sản")
    page.fill("#legal_basis", "Điều 145 Bộ luật Tố tụng hình sự 2015")
    page.evaluate("""() => {
        const pad = n => String(n).padStart(2, "0");
        const local = d => `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`
            + `T${pad(d.getHours())}:${pad(d.getMinutes())}`;
        const now = Date.now();
        document.getElementById("window_start").value = local(new Date(now - 3 * 3600e3));
        document.getElementById("window_end").value = local(new Date(now - 2 * 3600e3));
    }""")
    wait_until(page, "document.getElementById('incident-map').leafletMap !== undefined")
    click_map_at(page, lon, lat)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{live_server.url}/requests/*")
    request_url = page.url
    rows = page.locator("#assignments tbody tr[data-assignment]")
    assert rows.count() >= 1
    statuses = {rows.nth(i).locator(".status").get_attribute("data-status") for i in range(rows.count())}
    assert statuses <= {"notified", "pending"}

    # The scheduler's deliverer sends the outbox to the SMS gateway; each owner's message carries their link.
    live_server.app.config.update(NOTIFY_WEBHOOK_URL=webhook_receiver.url, NOTIFY_WEBHOOK_SECRET=WEBHOOK_SECRET)
    deliver_due(live_server.app.extensions["session_factory"], NotificationSettings.from_config(live_server.app.config))
    messages = [received.json() for received in webhook_receiver.received]
    links = {message["data"]["assignment_id"]: LINK.search(message["text"]).group(0) for message in messages}
    first_id = int(rows.first.get_attribute("data-assignment"))
    assert first_id in links

    phone.goto(links[first_id])
    asked = phone.inner_text("main")
    assert "Điều 145 Bộ luật Tố tụng hình sự 2015" in asked and "Phường Đống Đa" in asked  # who asks, on what basis
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    phone.check("#consent-form input[value=police_copy]")
    with phone.expect_navigation():
        phone.click("#consent-form button[type=submit]")
    assert phone.get_attribute("#answer", "data-answer") == "consent"
    phone.screenshot(path=str(SCREENSHOTS / f"loop-owner-{backend}.png"), full_page=True)

    page.goto(request_url)
    first = page.locator(f"#assignments tr[data-assignment='{first_id}']")
    assert first.locator(".status").get_attribute("data-status") == "consented"
    receive_an_officers_copy(
        page, f"#assignments tr[data-assignment='{first_id}']", small_clip(tmp_path), "VC-200/2026"
    )
    # The other owners answered by phone: no footage.
    while page.locator("#assignments button[value=report_no_footage]").count():
        with page.expect_navigation():
            page.locator("#assignments button[value=report_no_footage]").first.click()
    assert page.get_attribute("#request-status", "data-status") == "resolved"
    page.screenshot(path=str(SCREENSHOTS / f"loop-police-{backend}.png"), full_page=True)
