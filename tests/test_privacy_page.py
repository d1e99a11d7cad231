"""The owners' privacy notice, /privacy (issue 17 item 4): public, in Vietnamese first and in English, naming the
deployment's controller and the retention periods the registry runs with, and linked from every owner page."""

from __future__ import annotations

import re

import pytest
from owner_support import commitment_link
from translation_support import english_words, registry_words, vietnamese_words, visible_text


def test_the_notice_is_public_and_in_vietnamese_first(client, session):
    answer = client.get("/privacy")
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200 and '<html lang="vi">' in html
    for words in (
        "Dữ liệu cá nhân của ông/bà",
        "đơn vị công an quản lý sổ camera",
        "Quyền của ông/bà",
        "2 ngày làm việc",
    ):
        assert words in html, words
    assert "bạn" not in visible_text(html).lower().split()
    assert english_words(visible_text(html), registry_words(session)) == []


def test_english_on_request(client, session):
    html = client.get("/privacy?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in html and "Who holds your data" in html
    assert "withdraw your consent" in html and "Your personal data" in html
    shown = visible_text(html).replace("Tiếng Việt", "")  # the language switch names Vietnamese in Vietnamese
    assert vietnamese_words(shown, registry_words(session)) == []


def test_the_controller_and_the_periods_come_from_the_settings(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "PRIVACY_CONTROLLER_NAME", "Công an tỉnh Thử")
    monkeypatch.setitem(app.config, "PRIVACY_CONTROLLER_CONTACT", "Phòng PA05, 0243 000 000")
    monkeypatch.setitem(app.config, "OWNER_RETENTION_DAYS", 365.0)
    monkeypatch.setitem(app.config, "CLIP_RETENTION_DAYS", 90.0)
    monkeypatch.setitem(app.config, "CLIP_UPLOAD_EXPIRY_HOURS", 12.0)
    monkeypatch.setitem(app.config, "BACKUP_DIR", "/var/backups/camera-registry")
    monkeypatch.setitem(app.config, "BACKUP_KEEP", 14)
    monkeypatch.setitem(app.config, "BACKUP_INTERVAL_HOURS", 12.0)
    html = client.get("/privacy?lang=en").get_data(as_text=True)
    assert "The controller of your data is Công an tỉnh Thử." in html and "Phòng PA05, 0243 000 000" in html
    assert "deleted 90 days after" in html and "after 12 hours without progress" in html
    assert "made anonymous 365 days after the register last did anything with you" in html
    assert "the last 14 copies are kept, about 7 days" in html


def test_no_line_for_what_this_deployment_does_not_run(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "BACKUP_DIR", "")
    monkeypatch.setitem(app.config, "OWNER_RETENTION_DAYS", 0.0)
    html = client.get("/privacy?lang=en").get_data(as_text=True)
    assert 'id="retention-backups"' not in html and 'id="retention-owners"' not in html
    assert 'id="retention-clips"' in html


@pytest.mark.parametrize("language", ["vi", "en"])
def test_every_owner_page_links_the_notice_in_its_language(client, session, world, owner_link, language):
    _, token = owner_link
    renewal, _ = commitment_link(session, world)
    session.commit()
    for path in (f"/o/{token}", f"/o/{renewal}", "/o/no-such-link"):
        html = client.get(f"{path}?lang={language}").get_data(as_text=True)
        link = re.search(r'<footer id="privacy-footer">\s*<a href="([^"]+)"', html)
        assert link, path
        assert link.group(1) == f"/privacy?lang={language}"
        assert client.get(link.group(1)).status_code == 200
