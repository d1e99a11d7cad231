"""The police pages in Vietnamese and in English: every state and reason a police page shows has its words
(web/labels.py), and in headless Chromium an officer of Phường Đống Đa drafts a request, sends it, records an
answer and reads the assignments, the messages and the history in words, never a code."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from browser_support import click_map_at, free_point_in, point_in_front_of_a_lens, sign_in, wait_until
from conftest import SCREENSHOTS
from flask_babel import force_locale

from camera_registry.models import (
    AssignmentStatus,
    Channel,
    Handover,
    MessageStatus,
    RequestOutcome,
    RequestStatus,
    Role,
)
from camera_registry.schemas.requests import POLICE_ACTIONS
from camera_registry.services.channels.templates import MessageKind
from camera_registry.services.owner_answers import NO_FOOTAGE_REASONS
from camera_registry.services.routing import SkipReason
from camera_registry.services.timeline import KINDS
from camera_registry.timezones import LOCAL_ZONE
from camera_registry.web import labels

#: Each table of labels.py and the codes it must name: a code added later without its words fails here.
LABELLED = {
    "REQUEST_STATUSES": list(RequestStatus),
    "ASSIGNMENT_STATUSES": list(AssignmentStatus),
    "OUTCOMES": list(RequestOutcome),
    "ROLES": list(Role),
    "HANDOVERS": list(Handover),
    "MESSAGE_STATUSES": list(MessageStatus),
    "MESSAGE_KINDS": list(MessageKind),
    "CHANNELS": [channel.value for channel in Channel],
    "SKIP_REASONS": list(SkipReason),
    "ASSIGNMENT_ACTIONS": list(POLICE_ACTIONS),
    "NO_FOOTAGE_REASONS": list(NO_FOOTAGE_REASONS),
    "TIMELINE_KINDS": sorted(KINDS),
}

#: The codes of the states and reasons above, as a page must never show them.
CODES = sorted(
    {str(getattr(code, "value", code)) for codes in LABELLED.values() for code in codes if not isinstance(code, Role)}
    | {role.value for role in Role}
)

WORDS = {
    "vi": {
        "new": "Tạo yêu cầu trích xuất dữ liệu camera",
        "drawn": "mắt camera đang hoạt động",
        "request": "Yêu cầu",
        "assignments": "Phiếu gửi chủ camera",
        "history": "Diễn biến của yêu cầu",
        "routed": "Gửi yêu cầu đến chủ camera",
        "considered": "xét ",
        "lens": "Phiếu ",
    },
    "en": {
        "new": "New footage request",
        "drawn": "active lenses of your commune",
        "request": "Request",
        "assignments": "Assignments to camera owners",
        "history": "History of the request",
        "routed": "Sent to the camera owners",
        "considered": "considered ",
        "lens": "Assignment ",
    },
}
VIETNAMESE_LETTERS = re.compile(r"[ăâđêôơưĂÂĐÊÔƠƯàáảãạèéẻẽẹìíỉĩịòóỏõọùúủũụỳýỷỹỵ]")


def _in(lang: str, label) -> str:
    """A label as the page in `lang` shows it."""
    with force_locale(lang):
        return str(label)


@pytest.mark.parametrize("table", sorted(LABELLED))
def test_every_code_a_police_page_shows_has_its_words_in_both_languages(app, table):
    words = getattr(labels, table)
    missing = [code for code in LABELLED[table] if code not in words]
    assert missing == [], f"labels.{table} has no words for {missing}"
    with app.test_request_context("/"):
        for code in LABELLED[table]:
            english, vietnamese = _in("en", words[code]), _in("vi", words[code])
            assert english and vietnamese and vietnamese != english, (table, code, vietnamese)


def test_an_owners_no_footage_reason_is_shown_in_words(app):
    with app.test_request_context("/"):
        with force_locale("vi"):
            assert labels.answer_note("camera_off: mất điện") == "Camera bị tắt hoặc hỏng: mất điện"
        with force_locale("en"):
            assert labels.answer_note("overwritten") == "The recorder has already overwritten it"
        assert labels.answer_note("gọi điện báo") == "gọi điện báo" and labels.answer_note(None) == ""


def _visible_codes(text: str, lang: str) -> list[str]:
    """The codes `text` shows; in English only those no English sentence has ("routed", with _ or .)."""
    codes = CODES if lang == "vi" else [code for code in CODES if "_" in code or "." in code or code == "routed"]
    return [code for code in codes if re.search(rf"(?<![\w.-]){re.escape(code)}(?![\w-])", text)]


def _shown(page, live_server, lang: str, path: str) -> None:
    """Open `path` in `lang`: the language is asked for on every page, as a bookmark would."""
    page.goto(f"{live_server.url}{path}?lang={lang}")


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_police_draft_send_and_follow_a_request_in_their_language(page, live_server, backend, lang):
    words = WORDS[lang]

    def said(label) -> str:
        with live_server.app.test_request_context("/"):
            return _in(lang, label)

    lon, lat = point_in_front_of_a_lens(live_server.database_url)
    sign_in(page, live_server, live_server.username)

    _shown(page, live_server, lang, "/requests/new")
    assert page.inner_text("main h1") == words["new"]
    wait_until(page, "document.getElementById('reach-lenses').textContent !== ''")
    assert words["drawn"] in page.inner_text("#reach-lenses")  # the script's words, from the page's JSON block
    now = datetime.now(LOCAL_ZONE)
    case_ref = f"VV-2026-{lang.upper()}-{backend}"
    page.fill("#case_ref", case_ref)
    page.fill("#reason", "Trộm cắp xe máy")
    page.fill("#legal_basis", "Điều 145 Bộ luật Tố tụng hình sự 2015")
    page.fill("#window_start", (now - timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M"))
    page.fill("#window_end", (now - timedelta(hours=4)).strftime("%Y-%m-%dT%H:%M"))
    wait_until(page, "document.getElementById('incident-map').leafletMap !== undefined")
    click_map_at(page, lon, lat)
    with page.expect_navigation():
        page.click("main button[type=submit]")
    request_path = page.url.removeprefix(live_server.url)

    _shown(page, live_server, lang, request_path)
    assert page.inner_text("main h1").startswith(f"{words['request']} {case_ref}")
    assert page.get_attribute("#request-status", "data-status") == "routed"
    assert page.inner_text("#request-status") == said(labels.REQUEST_STATUSES[RequestStatus.ROUTED])
    assert page.inner_text("#lens-counts").startswith(words["considered"])
    assert page.inner_text("#assignments-heading") == words["assignments"]
    assert page.inner_text("#timeline-heading") == words["history"]
    assert words["routed"] in page.inner_text("#timeline")
    page.mouse.move(*free_point_in(page, "path.routed-lens"))  # the map's tooltip, from the page's JSON block
    assert re.fullmatch(rf"{words['lens']}\d+ · \d+ m", page.locator(".leaflet-tooltip").inner_text())
    rows = page.locator("#assignments tbody tr[data-assignment]")
    assert rows.count() >= 1
    for i in range(rows.count()):
        status = rows.nth(i).locator(".status")
        code = AssignmentStatus(status.get_attribute("data-status"))
        assert status.locator(".status-words").inner_text() == said(labels.ASSIGNMENT_STATUSES[code])
    queued = page.locator("#assignments .deliveries .delivery-status")
    assert queued.count() >= 1  # each owner's message, by its state in words
    for i in range(queued.count()):
        code = MessageStatus(queued.nth(i).get_attribute("data-status"))
        assert queued.nth(i).inner_text() == said(labels.MESSAGE_STATUSES[code])

    with page.expect_navigation():
        rows.first.locator("button[value=consent]").click()
    _shown(page, live_server, lang, request_path)
    first = page.locator("#assignments tbody tr[data-assignment]").first
    assert first.locator(".status").get_attribute("data-status") == "consented"
    assert first.locator(".status-words").inner_text() == said(labels.ASSIGNMENT_STATUSES[AssignmentStatus.CONSENTED])
    assert first.locator(".handover").inner_text() == said(labels.HANDOVERS[Handover.POLICE_COPY])

    main = page.inner_text("main")
    assert _visible_codes(main, lang) == [], main
    if lang == "en":
        headings = " ".join(page.locator("main h1, main h2, main th").all_inner_texts())
        assert not VIETNAMESE_LETTERS.search(headings), headings
    page.screenshot(path=str(SCREENSHOTS / f"police-request-{lang}-{backend}.png"), full_page=True)

    _shown(page, live_server, lang, "/requests")
    line = page.locator("#requests tr[data-request]", has_text=case_ref)
    assert line.locator(".status").get_attribute("data-status") == "in_progress"
    assert line.locator(".status").inner_text() == said(labels.REQUEST_STATUSES[RequestStatus.IN_PROGRESS])
    assert _visible_codes(page.inner_text("main"), lang) == []
    assert page.foreign_requests == []
