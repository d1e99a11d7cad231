"""Every string people read is translated: the catalogs against the code, and every page in both languages.

(a) The message ids babel.cfg extracts from camera_registry all have a Vietnamese translation, and no catalog
entry's placeholders differ from its msgid's. (b) Every GET page (found in the app's URL map, so a new page is
covered without a change here) is rendered for each role and for the owners' links, in Vietnamese and in
English: the Vietnamese page must show no word of translation_support.ENGLISH_WORDS, the English page no
Vietnamese word, apart from the registry's own data (names of places and people, typed texts). The error
pages are rendered for every status they name. API errors are tests/test_error_translations.py's.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from breach_support import recorded_breach
from owner_support import assignment_link, commitment_link, routed_assignment
from sqlalchemy import select
from subject_request_support import completed_access_request
from translation_support import english_words, registry_words, vietnamese_words, visible_text
from werkzeug.exceptions import default_exceptions

from camera_registry.models import User

ROOT = Path(__file__).resolve().parent.parent
CATALOGS = ROOT / "camera_registry" / "translations"
#: The markers the code translates with: Flask-Babel's, and the domain's (camera_registry/services/messages.py).
KEYWORDS = {
    **DEFAULT_KEYWORDS,
    "lazy_gettext": None,
    "lazy_ngettext": (1, 2),
    "refusal": None,
    "domain_term": None,
    "say": (2,),  # the messages to owners and duty phones (camera_registry/services/wording.py)
}
PLACEHOLDER = re.compile(r"%\((\w+)\)[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]")


def _catalog(language: str):
    with (CATALOGS / language / "LC_MESSAGES" / "messages.po").open("rb") as po:
        return read_po(po)


def extracted_msgids() -> dict[str, str]:
    """Every message id in the code and templates, as babel.cfg extracts them, with where each was found."""
    with (ROOT / "babel.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config)
    found = {}
    for filename, line, message, _, _ in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS, strip_comment_tags=True
    ):
        for msgid in message if isinstance(message, tuple) else (message,):
            if msgid:
                found.setdefault(msgid, f"{filename}:{line}")
    return found


def test_babel_cfg_extracts_the_whole_package():
    found = {where.split(":")[0] for where in extracted_msgids().values()}
    assert {"camera_registry/web/templates/base.html", "camera_registry/web/auth.py"} <= found
    assert any(path.startswith("camera_registry/web/templates/requests/") for path in found)


def test_every_message_id_has_a_vietnamese_translation():
    catalog = _catalog("vi")
    translated = set()
    for message in catalog:
        strings = message.string if isinstance(message.string, (list, tuple)) else (message.string,)
        if message.id and all(strings):
            translated.update(message.id if isinstance(message.id, tuple) else (message.id,))
    missing = {msgid: where for msgid, where in extracted_msgids().items() if msgid not in translated}
    assert missing == {}, "add these to both .po files: " + repr(missing)


@pytest.mark.parametrize("language", ["vi", "en"])
def test_translations_keep_the_placeholders_of_their_message_id(language):
    wrong = []
    for message in _catalog(language):
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, (list, tuple)) else (message.string,)
        expected = set(PLACEHOLDER.findall(ids[-1]))
        if len(ids) > 1 and set(PLACEHOLDER.findall(ids[0])) != expected:
            wrong.append((ids, "singular and plural differ"))
        wrong.extend((ids[0], string) for string in strings if string and set(PLACEHOLDER.findall(string)) != expected)
    assert wrong == []


# --------------------------------------------------------------------------- every page, for every role


#: Paths that are not pages: the API and its open formats, files, health checks and providers' callbacks.
NOT_PAGES = ("/api/", "/static/", "/ogc", "/tiles/", "/hooks/", "/healthz", "/readyz", "/metrics", "/basemap.")
#: Who looks at the pages: the world fixture's Bearer header of each role (pages take them as the API does).
READERS = ("anonymous", "admin", "province_staff", "district_staff", "police_a")


def _arguments(session, world) -> dict[str, dict]:
    """The values of each page's URL arguments, by endpoint: every page with arguments must be here."""
    assignment = routed_assignment(session, world)
    token = assignment_link(session, assignment)
    renewal, _ = commitment_link(session, world)
    session.commit()
    admin = session.scalar(select(User).where(User.username == "admin"))
    request_args = {"request_id": assignment.request_id}
    breach_args = {"breach_id": recorded_breach(session, admin)}
    return {
        "police.show": request_args,
        "police.download_clip": {**request_args, "clip_id": 0},
        "police.evidence_package": {**request_args, "assignment_id": assignment.id},
        "owner.show": {"token": token},
        "owner.show renewal": {"token": renewal},
        "owner.data_page": {"token": token},
        "owner.data_page renewal": {"token": renewal},
        "owner.data_export": {"token": token, "request_id": completed_access_request(session, assignment.owner_id)},
        "admin_users.user_page": {"username": admin.username},
        "admin_users.deactivate": {"username": admin.username},
        "admin_users.revoke_token": {"username": admin.username, "token_id": 0},
        "admin_imports.job_page": {"job_id": 0},
        "admin_imports.job_status": {"job_id": 0},
        "admin_invitations.signed_text": {"text_id": 0},
        "admin_breaches.show": breach_args,
        "admin_breaches.report": breach_args,
        "admin_breaches.report_json": breach_args,
    }


#: Pages showing a form's errors: the filters of the figures and of the contact reads, each wrong.
PAGES_WITH_ERRORS = (
    ("figures.page errors", "/figures?from=someday&to=2026-13-01"),
    ("admin.contact_reads_page errors", "/admin/contact-reads?from=someday&commune=&owner=x&page=0"),
)


def _pages(app, arguments) -> list[tuple[str, str]]:
    """(name, path) of every GET page of the app, and the pages showing a form's errors."""
    pages, unknown = list(PAGES_WITH_ERRORS), []
    with app.test_request_context():
        from flask import url_for

        for rule in app.url_map.iter_rules():
            if "GET" not in rule.methods or rule.rule.startswith(NOT_PAGES):
                continue
            if not rule.arguments:
                pages.append((rule.endpoint, url_for(rule.endpoint)))
                continue
            named = [name for name in arguments if name.split(" ")[0] == rule.endpoint]
            if not named:
                unknown.append(rule.endpoint)
            pages.extend((name, url_for(rule.endpoint, **arguments[name])) for name in named)
    assert unknown == [], "say in _arguments what these pages are called with"
    return sorted(set(pages))


def _problems(html: str, language: str, data: list[str]) -> list[str]:
    text = visible_text(html)
    return english_words(text, data) if language == "vi" else vietnamese_words(text, data)


@pytest.mark.parametrize("language", ["vi", "en"])
def test_every_page_for_every_reader_is_in_its_language(client, session, world, language):
    arguments = _arguments(session, world)
    data = registry_words(session)
    shown, wrong = 0, {}
    for reader in READERS:
        for name, path in _pages(client.application, arguments):
            if reader != "anonymous" and name.startswith("owner."):
                continue  # owners' links know no staff
            answer = client.get(f"{path}{'&' if '?' in path else '?'}lang={language}", headers=world.headers[reader])
            if answer.mimetype != "text/html" or 300 <= answer.status_code < 400:
                continue  # a download, or the way to the login page
            html = answer.get_data(as_text=True)
            assert f'<html lang="{language}">' in html, (reader, path, answer.status_code)
            shown += 1
            if problems := _problems(html, language, data):
                wrong[f"{reader} {path} {answer.status_code}"] = f"{problems} in: {visible_text(html)}"
    assert wrong == {}, "\n".join(f"{page}: {problems}" for page, problems in wrong.items())
    assert shown > 3 * len(READERS)


#: The errors a person meets on the pages: a form they cannot read, not signed in, no right, nothing there, a wrong
#: method, a conflict, too large, a wrong format, too many tries, our failure, a busy database.
PAGE_ERRORS = (400, 401, 403, 404, 405, 409, 413, 415, 429, 500, 503)


@pytest.mark.parametrize("language", ["vi", "en"])
def test_error_pages_are_in_their_language(app, client, language):
    """The page of every HTTP error a page can meet, from a real request where one is easy, else as raised."""
    answers = [
        client.get("/no-such-page", query_string={"lang": language}),  # 404
        client.delete("/login", query_string={"lang": language}),  # 405
    ]
    for status in PAGE_ERRORS:
        with app.test_request_context("/figures", query_string={"lang": language}):
            answers.append(app.make_response(app.handle_http_exception(default_exceptions[status]())))
    wrong = {}
    for answer in answers:
        html = answer.get_data(as_text=True)
        assert f'<html lang="{language}">' in html and 'id="languages"' in html, answer.status_code
        if problems := _problems(html, language, []):
            wrong[answer.status_code] = f"{problems} in: {visible_text(html)}"
    assert wrong == {}, "\n".join(f"{status}: {problems}" for status, problems in wrong.items())
