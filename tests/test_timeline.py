"""A request's history on its page (issue 15, item 3): every step from routing to a download, oldest first, with
who did it and when in Vietnam time; the police of another commune cannot read it, and it never shows an owner's
phone or a link's token."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from clip_support import MP4_HEAD, TUS, tus_metadata
from notify_support import routed_request, run, sessions_on
from owner_support import assignment_link, consent_to_upload
from sqlalchemy import event, select

from camera_registry.models import FootageClip, FootageRequest, User
from camera_registry.services.deadlines import remind_unanswered
from camera_registry.services.delivery import deliver_due
from camera_registry.services.timeline import KINDS, request_timeline
from camera_registry.web import labels

CLOCK = {"recorder_time": "2026-03-12T08:00:30", "clock_checked_at": "2026-03-12T08:00:00+07:00"}
#: From routing to the download, the steps the timeline must show in this order.
STEPS = [
    "request.create",
    "request.route",
    "message.queued",
    "assignment.notify",
    "message.sent",
    "assignment.remind",
    "assignment.view",
    "assignment.consent",
    "clip.upload_started",
    "clip.upload_finished",
    "assignment.receive_footage",
    "request.resolve",
    "clip.downloaded",
    "owner.contacts_read",
]


@pytest.fixture()
def followed(client, session, world, notification_settings, clip_store):
    """A request of commune A taken from routing through a reminder, the owner's consent and upload, to the
    police's download of the clip; the owner's link token."""
    session.scalar(select(User).where(User.username == "police-a")).full_name = "Trần Thị Bình"
    request = routed_request(session)
    [assignment] = request.assignments
    session.commit()
    deliver_due(sessions_on(session), notification_settings)
    run(remind_unanswered, session, notification_settings, request.routed_at + timedelta(days=1))
    token = assignment_link(session, assignment)
    session.commit()
    consent_to_upload(client, token)
    content = MP4_HEAD + b"\x00" * 2000
    metadata = tus_metadata(filename="cổng.mp4", filetype="video/mp4", **CLOCK)
    created = client.post(
        f"/o/{token}/uploads", headers={**TUS, "Upload-Length": str(len(content)), "Upload-Metadata": metadata}
    )
    headers = {**TUS, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}
    assert client.patch(created.headers["Location"], data=content, headers=headers).status_code == 204
    clip = session.scalar(select(FootageClip).where(FootageClip.assignment_id == assignment.id))
    download = client.get(f"/requests/{request.id}/clips/{clip.id}", headers=world.headers["police_a"])
    assert download.status_code == 200
    download.close()
    return request.id, token


def _timeline_html(page: str) -> str:
    return re.search(r'<table class="list" id="timeline".*?</table>', page, re.S).group(0)


def test_the_request_page_shows_its_history_in_order_with_who_and_when(client, world, followed):
    request_id, token = followed
    first = client.get(f"/requests/{request_id}", headers=world.headers["police_a"])  # shows contacts: audited
    assert first.status_code == 200
    page = client.get(f"/requests/{request_id}", headers=world.headers["police_a"]).get_data(as_text=True)
    timeline = _timeline_html(page)
    kinds = re.findall(r'<tr data-kind="([^"]+)"', timeline)
    shown = iter(kinds)
    assert all(step in shown for step in STEPS), kinds  # each step, in this order
    assert "Gửi yêu cầu đến chủ camera" in timeline and "Nhắc chủ camera lần 1" in timeline
    assert "chủ camera, qua đường link" in timeline and "hệ thống" in timeline
    assert "Trần Thị Bình (công an xã)" in timeline  # the officer who filed it, by name and role
    assert "cổng.mp4" in timeline and "trên trang yêu cầu" in timeline
    for stored, shown in re.findall(r'<time datetime="([^"]+)">([^<]+)</time>', timeline):
        vietnam = datetime.fromisoformat(stored).astimezone(UTC) + timedelta(hours=7)  # UTC+7, no daylight saving
        assert shown == vietnam.strftime("%d/%m/%Y %H:%M")
    assert "0912345678" not in timeline and "091 234 5678" not in timeline
    assert token not in page and "/o/" not in timeline


def test_the_history_speaks_english_when_asked(client, world, followed):
    request_id, _ = followed
    timeline = _timeline_html(
        client.get(f"/requests/{request_id}?lang=en", headers=world.headers["police_a"]).get_data(as_text=True)
    )
    assert "Sent to the camera owners" in timeline and "Reminder no. 1" in timeline
    assert "camera owner, through their link" in timeline and "Clip downloaded" in timeline


def test_the_police_of_another_commune_cannot_read_it_and_staff_read_it_without_contacts(client, world, followed):
    request_id, _ = followed
    assert client.get(f"/requests/{request_id}", headers=world.headers["police_b"]).status_code == 404
    staff = client.get(f"/requests/{request_id}", headers=world.headers["district_staff"])
    assert staff.status_code == 200 and "Gửi yêu cầu đến chủ camera" in _timeline_html(staff.get_data(as_text=True))
    assert "0912345678" not in staff.get_data(as_text=True)


def test_the_history_takes_a_few_queries_whatever_its_length(session, world, followed, engine):
    request_id, _ = followed
    request = session.get(FootageRequest, request_id)
    statements = []

    def count(connection, cursor, statement, *args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        events = request_timeline(session, request)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(events) >= len(STEPS)
    assert len(statements) <= 5


def test_every_kind_of_the_history_has_a_label():
    assert set(labels.TIMELINE_KINDS) == KINDS
