"""Issue 15 in headless Chromium: an admin uploads a register on /admin/imports; the upload's progress bar, then
the job's page, which follows the background import until it settles: a register with a bad row shows its
row-error table, a good one reaches 100 % and shows its counts; in Vietnamese and in English.

A worker thread stands in for the scheduler's `run_imports` job, which imports on the live server's database.
"""

from __future__ import annotations

import re
import threading

import pytest
from browser_support import admin_on, point_in_front_of_a_lens, sign_in
from import_support import HEADER

from camera_registry.services import import_jobs

ADMIN = "admin.imports"
WORDS = {
    "vi": {"rejected": "Bị từ chối, không ghi gì", "imported": "Đã nhập", "lenses": "Mắt camera"},
    "en": {"rejected": "Rejected, nothing written", "imported": "Imported", "lenses": "Lenses"},
}


@pytest.fixture(scope="module")
def admin(live_server):
    return admin_on(live_server, ADMIN)


@pytest.fixture(scope="module")
def worker(live_server):
    """Runs the queued imports every half second, as the scheduler does every two."""
    app = live_server.app
    settings = import_jobs.ImportJobSettings.from_config(app.config)
    stop = threading.Event()

    def work():
        while not stop.wait(0.5):
            import_jobs.run_imports(app.extensions["session_factory"], settings)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(timeout=30)


def register_file(live_server, tag: str, bearing: int) -> dict:
    lon, lat = point_in_front_of_a_lens(live_server.database_url)
    rows = [
        f"00235,site-{tag},owner-{tag},household,Hộ {tag},0912000333,rec-{tag},14,lens-{tag}-{n},"
        f"{lon + n * 0.00001:.6f},{lat:.6f},{bearing if n == 1 else 90},90,30,active,,"
        for n in range(3)
    ]
    return {"name": f"so-{tag}.csv", "mimeType": "text/csv", "buffer": "\n".join([HEADER, *rows]).encode()}


def upload(page, file: dict) -> None:
    page.set_input_files("#import-form input[type=file]", file)
    page.click("#import-form button[type=submit]")
    page.wait_for_url(re.compile(r"/admin/imports/\d+$"))


@pytest.mark.parametrize("language", ["vi", "en"])
def test_an_admin_uploads_a_bad_register_then_a_good_one_and_follows_each(page, live_server, admin, worker, language):
    words = WORDS[language]
    sign_in(page, live_server, admin)
    page.goto(f"{live_server.url}/admin/imports?lang={language}")

    upload(page, register_file(live_server, f"bad{language}", bearing=400))
    page.wait_for_selector("#row-errors", timeout=60_000)
    cells = page.locator("#row-errors tbody tr").first.locator("td").all_inner_texts()
    assert cells[:2] == ["3", "bearing_deg"] and "400" in cells[2]
    assert page.locator("#import-status").inner_text() == words["rejected"]

    page.goto(f"{live_server.url}/admin/imports")
    upload(page, register_file(live_server, f"good{language}", bearing=90))
    page.wait_for_selector("#import-counts", timeout=60_000)
    assert page.locator("#import-progress progress").get_attribute("value") == "100"
    assert page.locator("#import-percent").inner_text() == "100 %"
    assert page.locator("#import-status").inner_text() == words["imported"]
    lenses = page.locator("#import-counts tr", has_text=words["lenses"]).locator("td").all_inner_texts()
    assert lenses == ["3", "0", "0"]
    assert page.locator("#row-errors").count() == 0

    page.goto(f"{live_server.url}/admin/imports")
    listed = page.locator("#import-jobs tbody tr").first
    assert f"so-good{language}.csv" in listed.inner_text() and words["imported"] in listed.inner_text()
    assert page.foreign_requests == []


def test_a_file_over_the_limit_is_refused_before_it_is_sent(page, live_server, admin, monkeypatch):
    monkeypatch.setitem(live_server.app.config, "MAX_CONTENT_LENGTH", 1024 * 1024)
    sign_in(page, live_server, admin)
    page.goto(f"{live_server.url}/admin/imports?lang=en")
    big = {"name": "big.csv", "mimeType": "text/csv", "buffer": b"x" * (1024 * 1024 + 1)}
    page.set_input_files("#import-form input[type=file]", big)
    page.click("#import-form button[type=submit]")
    assert page.locator("#upload-status").inner_text() == "The file is larger than the upload limit of 1 MB."
    assert page.url.endswith("/admin/imports?lang=en")


def test_swagger_try_it_out_imports_for_an_admin_signed_in_to_the_pages(page, live_server, admin):
    """Swagger UI's own request, with the session cookie: its interceptor adds the docs page's CSRF token."""
    sign_in(page, live_server, admin)
    page.goto(f"{live_server.url}/api/docs")
    operation = page.locator(".opblock-post", has=page.locator("[data-path='/api/v1/imports']")).first
    operation.locator(".opblock-summary").click()
    operation.locator("button.try-out__btn").click()
    operation.locator("input[type=file]").set_input_files(register_file(live_server, "swagger", bearing=90))
    with page.expect_response(lambda response: "/api/v1/imports" in response.url) as answered:
        operation.locator("button.execute").click()
    response = answered.value
    assert response.status == 200, response.text()
    assert response.request.header_value("x-csrftoken")
    assert response.json()["lenses"]["created"] == 3
