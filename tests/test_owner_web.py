"""The owner's pages at /o/<token>: languages, CSRF, dead links, rate limits and streamed clip uploads."""

from __future__ import annotations

import hashlib
import io
import os
import re
from datetime import timedelta

import pytest
from clip_support import MP4_HEAD, stored_files
from owner_support import NOW, POLICE_PHONE, assignment_link, consent_to_upload, fresh_csrf
from sqlalchemy import select

from camera_registry.models import AssignmentStatus, AuditEvent, FootageClip
from camera_registry.services.owner_links import revoke_links


def page_text(response) -> str:
    """The page without its CSRF tokens, which differ per render."""
    return re.sub(r'name="csrf_token" value="[^"]+"', "", response.get_data(as_text=True))


def test_the_page_says_what_is_asked_in_vietnamese(client, session, owner_link):
    assignment, token = owner_link
    response = client.get(f"/o/{token}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and '<html lang="vi">' in html
    for words in (
        "Yêu cầu cung cấp dữ liệu camera của công an",
        "Công an Xã A",
        "Điều 145 BLTTHS",
        "Khung giờ (giờ Việt Nam)",
        "Giữ dữ liệu đến",
        "Mắt camera lens-a",
        "hướng đông",
        POLICE_PHONE,
    ):
        assert words in html, words
    assert response.headers["Cache-Control"] == "no-store" and response.headers["Referrer-Policy"] == "no-referrer"
    session.refresh(assignment)
    assert assignment.status == AssignmentStatus.VIEWED


def test_english_on_request_and_remembered(client, owner_link):
    _, token = owner_link
    html = client.get(f"/o/{token}?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in html and "Footage request from the police" in html and "Police of Xã A" in html
    assert "Tiếng Việt" in html
    again = client.get(f"/o/{token}").get_data(as_text=True)
    assert "Keep the recordings until" in again
    assert "Giữ dữ liệu đến" in client.get(f"/o/{token}?lang=vi").get_data(as_text=True)


def test_every_catalog_string_has_a_vietnamese_translation():
    from pathlib import Path

    from babel.messages.pofile import read_po

    import camera_registry

    path = Path(camera_registry.__file__).parent / "translations/vi/LC_MESSAGES/messages.po"
    with open(path, "rb") as po:
        catalog = read_po(po)
    assert [message.id for message in catalog if message.id and not message.string] == []


def test_forms_need_the_csrf_token(client, session, owner_link):
    assignment, token = owner_link
    response = client.post(f"/o/{token}", data={"action": "decline"})
    assert response.status_code == 400 and "Biểu mẫu đã hết hạn" in response.get_data(as_text=True)
    session.refresh(assignment)
    assert assignment.status != AssignmentStatus.DECLINED


def test_a_double_submit_shows_the_same_result_and_another_answer_is_refused(client, session, owner_link):
    assignment, token = owner_link
    form = {"csrf_token": fresh_csrf(client, token), "action": "consent", "handover": "police_copy"}
    first = client.post(f"/o/{token}", data=form)
    assert first.status_code == 303 and first.headers["Location"].endswith(f"/o/{token}")
    result = client.get(f"/o/{token}")
    assert result.status_code == 200 and "Câu trả lời của ông/bà đã được ghi nhận" in page_text(result)
    last_event = session.scalar(select(AuditEvent.id).order_by(AuditEvent.id.desc()).limit(1))
    again = client.post(f"/o/{token}", data=form, follow_redirects=True)  # the browser sends the same form again
    assert again.status_code == 200 and page_text(again) == page_text(result)
    assert session.scalar(select(AuditEvent.id).order_by(AuditEvent.id.desc()).limit(1)) == last_event
    refused = client.post(f"/o/{token}", data={**form, "action": "decline"})
    assert refused.status_code == 409 and 'data-refusal="already_answered"' in refused.get_data(as_text=True)
    assert POLICE_PHONE in refused.get_data(as_text=True)
    session.refresh(assignment)
    assert assignment.status == AssignmentStatus.CONSENTED


def test_an_incomplete_answer_is_shown_again_with_the_reason(client, session, owner_link):
    assignment, token = owner_link
    response = client.post(f"/o/{token}", data={"csrf_token": fresh_csrf(client, token), "action": "report_no_footage"})
    assert response.status_code == 422 and 'data-error="reason"' in response.get_data(as_text=True)
    session.refresh(assignment)
    assert assignment.status == AssignmentStatus.VIEWED


def test_dead_links_show_the_police_phone(client, session, world, owner_link):
    assignment, used = owner_link
    client.post(f"/o/{used}", data={"csrf_token": fresh_csrf(client, used), "action": "decline"})
    revoked = assignment_link(session, assignment)
    revoke_links(session, assignment=assignment)
    expired = assignment_link(session, assignment, expires_at=NOW - timedelta(minutes=1))
    session.commit()
    for token, status, words in (
        (expired, 410, "Đường liên kết đã hết hạn"),
        (revoked, 410, "Đường liên kết đã bị thu hồi"),
        (used, 200, "Câu trả lời của ông/bà đã được ghi nhận"),
    ):
        response = client.get(f"/o/{token}")
        html = response.get_data(as_text=True)
        assert response.status_code == status and words in html, words
        assert f'href="tel:{POLICE_PHONE.replace(" ", "")}"' in html and "Công an Xã A" in html
    unknown = client.get("/o/guessed-token")
    html = unknown.get_data(as_text=True)
    assert unknown.status_code == 404 and "Đường liên kết không hợp lệ" in html
    assert "tel:" not in html and "Xã A" not in html


def test_the_link_routes_are_rate_limited(app, client, owner_link, monkeypatch):
    _, token = owner_link
    monkeypatch.setitem(app.config, "OWNER_LINK_RATE_LIMIT", "3/minute")
    assert [client.get(f"/o/{token}").status_code for _ in range(3)] == [200, 200, 200]
    limited = client.get(f"/o/{token}")
    assert limited.status_code == 429 and "Quá nhiều lần thử" in limited.get_data(as_text=True)
    assert client.get("/o/another-token").status_code == 429  # the same route, whatever the token
    assert client.get("/healthz").status_code == 200  # other pages are not limited


# --------------------------------------------------------------------------- clip uploads


def upload(client, token, csrf, content: bytes, filename="clip.mp4", content_type="video/mp4"):
    return client.post(
        f"/o/{token}/clip",
        data={"csrf_token": csrf, "clip": (io.BytesIO(content), filename, content_type)},
        content_type="multipart/form-data",
    )


def audit_actions(session, prefix="clip."):
    return list(
        session.scalars(select(AuditEvent.action).where(AuditEvent.action.startswith(prefix)).order_by(AuditEvent.id))
    )


def test_a_clip_is_streamed_to_the_store_and_counts_as_the_footage(client, session, world, owner_link, clip_store):
    assignment, token = owner_link
    csrf = consent_to_upload(client, token)
    content = MP4_HEAD + os.urandom(300_000)
    response = upload(client, token, csrf, content, filename="cổng trước.mp4")
    assert response.status_code == 303, response.get_data(as_text=True)
    clip = session.scalar(select(FootageClip).where(FootageClip.assignment_id == assignment.id))
    assert clip.sha256 == hashlib.sha256(content).hexdigest() and clip.size_bytes == len(content)
    assert clip.original_name == "cổng trước.mp4" and clip.content_type == "video/mp4"
    assert (clip_store / clip.stored_path).read_bytes() == content
    assert stored_files(clip_store) == [clip_store / clip.stored_path]
    session.refresh(assignment)
    assert assignment.status == AssignmentStatus.FOOTAGE_RECEIVED
    assert (assignment.evidence_ref, assignment.evidence_sha256) == (f"clip:{clip.id}", clip.sha256)
    assert audit_actions(session) == ["clip.upload_started", "clip.upload_finished"]
    owner_page = client.get(f"/o/{token}").get_data(as_text=True)
    assert clip.sha256 in owner_page and "cổng trước.mp4" in owner_page
    police_page = client.get(f"/requests/{assignment.request_id}", headers=world.headers["police_a"])
    assert clip.sha256 in police_page.get_data(as_text=True) and "cổng trước.mp4" in police_page.get_data(as_text=True)


def test_an_upload_over_the_limit_gets_413_and_leaves_no_file(
    app, client, session, owner_link, clip_store, monkeypatch
):
    assignment, token = owner_link
    csrf = consent_to_upload(client, token)
    monkeypatch.setitem(app.config, "CLIP_MAX_BYTES", 1024 * 1024)
    declared_too_large = upload(client, token, csrf, MP4_HEAD + bytes(5 * 1024 * 1024))
    assert declared_too_large.status_code == 413
    assert "Tệp quá lớn. Đoạn phim được nhận tối đa 1.0 MB" in declared_too_large.get_data(as_text=True)
    # Within the body's allowance, but the file itself outgrows the limit while it streams in.
    counted_too_large = upload(client, token, csrf, MP4_HEAD + bytes(1024 * 1024))
    assert counted_too_large.status_code == 413
    assert stored_files(clip_store) == []
    assert session.scalar(select(FootageClip).where(FootageClip.assignment_id == assignment.id)) is None
    assert audit_actions(session) == ["clip.upload_started", "clip.upload_refused"] * 2
    session.refresh(assignment)
    assert assignment.status == AssignmentStatus.CONSENTED


@pytest.mark.parametrize(
    "filename, content_type, content",
    [
        ("setup.exe", "application/octet-stream", b"MZ\x90\x00" + bytes(2000)),
        ("clip.mp4", "video/mp4", b"MZ\x90\x00" + bytes(2000)),  # a program named like a video
        ("clip.mp4", "application/pdf", MP4_HEAD + bytes(2000)),
        ("notes.txt", "text/plain", b"hello"),
    ],
)
def test_files_that_are_not_video_are_refused(client, session, owner_link, clip_store, filename, content_type, content):
    _, token = owner_link
    csrf = consent_to_upload(client, token)
    response = upload(client, token, csrf, content, filename, content_type)
    assert response.status_code == 415 and "Không nhận loại tệp này" in response.get_data(as_text=True)
    assert stored_files(clip_store) == []


@pytest.mark.parametrize(
    "filename, content",
    [
        ("export.dav", b"DHAV" + bytes(5000)),
        ("export.h264", b"\x00\x00\x00\x01\x67" + bytes(5000)),
        ("clip.mkv", b"\x1a\x45\xdf\xa3" + bytes(5000)),
    ],
)
def test_recorder_exports_are_taken_as_octet_streams(client, session, owner_link, clip_store, filename, content):
    _, token = owner_link
    csrf = consent_to_upload(client, token)
    assert upload(client, token, csrf, content, filename, "application/octet-stream").status_code == 303
    assert len(stored_files(clip_store)) == 1


def test_an_upload_needs_the_csrf_token_and_the_upload_stage(client, session, owner_link, clip_store):
    _, token = owner_link
    csrf = fresh_csrf(client, token)
    early = upload(client, token, csrf, MP4_HEAD + bytes(100))
    assert early.status_code == 409 and stored_files(clip_store) == []  # no consent to upload yet
    consent_to_upload(client, token)
    forged = upload(client, token, "not-the-token", MP4_HEAD + bytes(100))
    assert forged.status_code == 400 and "Biểu mẫu đã hết hạn" in forged.get_data(as_text=True)
    assert stored_files(clip_store) == []
