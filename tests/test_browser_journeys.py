"""Each role's journey in headless Chromium, in Vietnamese and in English: police, staff, admin and owner sign in
(or open their link), land on their work, and walk the pages of their job; every page they meet is in the
language they chose, with no English word in the Vietnamese pages and no Vietnamese word in the English ones
apart from the registry's own data (names of places and people, what the police typed).

The pages' content is each page's own tests'; this test is about the whole walk being in one language.
"""

from __future__ import annotations

import pytest
from browser_support import on_live_database, owner_link_on, sign_in, wait_for_language
from conftest import SCREENSHOTS
from translation_support import english_words, registry_words, vietnamese_words, visible_text

from camera_registry.models import Role
from camera_registry.services import accounts
from camera_registry.services.access import SYSTEM

ADMIN = "journey.admin"
STAFF = "staff.hanoi"  # province staff of Hà Nội (conftest.LiveServer.others)
LANGUAGES = ("vi", "en")


@pytest.fixture(scope="module")
def journey(live_server):
    """An admin account and a routed request of Phường Đống Đa with its first owner's link, on the live server."""
    on_live_database(
        live_server,
        lambda session: accounts.create_user(session, SYSTEM, ADMIN, live_server.password, Role.ADMIN, None),
    )
    return owner_link_on(live_server)


def _in_language(page, language: str) -> None:
    """Choose `language` with the header's switch, as a person would, unless the page is in it already."""
    if page.locator("html").get_attribute("lang") != language:
        page.click(f"#languages [data-language={language}], #languages a[hreflang={language}]")
        wait_for_language(page, language)


def _problems(page, language: str, data: list[str]) -> list[str]:
    """What of the page now shown is not in `language`."""
    page.wait_for_load_state("networkidle")
    assert page.locator("html").get_attribute("lang") == language, page.url
    text = visible_text(page.content())
    return english_words(text, data) if language == "vi" else vietnamese_words(text, data)


def _walk(page, live_server, language: str, paths: list[str]) -> dict[str, list[str]]:
    """The page shown now and then each of `paths`, each with what of it is not in `language`."""
    data = on_live_database(live_server, registry_words)
    walked = {page.url.removeprefix(live_server.url): _problems(page, language, data)}
    for path in paths:
        page.goto(f"{live_server.url}{path}")
        walked[path] = _problems(page, language, data)
    return walked


def _assert_in_language(walked: dict[str, list[str]], pages: int) -> None:
    assert {path: problems for path, problems in walked.items() if problems} == {}
    assert len(walked) >= pages


@pytest.mark.parametrize("language", LANGUAGES)
def test_police_walk_their_requests(page, live_server, journey, language, backend):
    sign_in(page, live_server, live_server.username)
    assert page.url.endswith("/requests")  # police land on their requests
    _in_language(page, language)
    page.click("main a[href^='/requests/']:not([href$='/new'])")  # the request routed for the journey
    page.wait_for_url("**/requests/*")
    request_page = page.url.removeprefix(live_server.url)
    walked = _walk(page, live_server, language, ["/requests", request_page, "/requests/new", "/figures"])
    page.screenshot(path=str(SCREENSHOTS / f"journey-police-{language}-{backend}.png"))
    _assert_in_language(walked, 4)


@pytest.mark.parametrize("language", LANGUAGES)
def test_staff_walk_the_map_and_figures(page, live_server, journey, language):
    sign_in(page, live_server, STAFF)
    assert page.url.endswith("/map")  # staff land on the map
    _in_language(page, language)
    walked = _walk(page, live_server, language, ["/map", "/figures", "/requests", "/"])
    _assert_in_language(walked, 4)


@pytest.mark.parametrize("language", LANGUAGES)
def test_admins_walk_every_admin_page(page, live_server, journey, language):
    sign_in(page, live_server, ADMIN)
    assert page.url.endswith("/admin")  # admins land on the admin home
    _in_language(page, language)
    links = page.eval_on_selector_all("main a[href^='/']", "links => links.map(link => link.getAttribute('href'))")
    admin_pages = sorted({link for link in links if link.startswith("/admin/")})
    assert len(admin_pages) >= 6, links  # accounts, contact reads, channels, editions, invitations, imports
    walked = _walk(page, live_server, language, admin_pages)
    _assert_in_language(walked, 7)


@pytest.mark.parametrize("language", LANGUAGES)
def test_owners_answer_in_their_language(phone, live_server, language):
    phone.goto(f"{live_server.url}/o/{owner_link_on(live_server)}")
    _in_language(phone, language)
    walked = {"request": _walk(phone, live_server, language, [])}
    phone.click("main button[type=submit]:has-text('%s')" % ("Tôi đồng ý" if language == "vi" else "I agree"))
    walked["answered"] = _walk(phone, live_server, language, [])
    _assert_in_language({step: sum(pages.values(), []) for step, pages in walked.items()}, 2)
