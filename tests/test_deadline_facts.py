"""Two deadlines told apart: owners keep the footage until their recorder overwrites it, and answer by the police's
reply deadline; a short reply deadline never shortens the keep-until time they are told (issue 15, item 6)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from channel_support import DAY, channel_settings, esms_config, route
from notify_support import messages as outbox
from notify_support import sessions_on
from outcome_support import file_request
from owner_support import assignment_link
from sqlalchemy import select

from camera_registry.models import Channel, OwnerLink, Recorder
from camera_registry.services.channels.templates import TEMPLATES, MessageKind
from camera_registry.services.delivery import deliver_due
from camera_registry.services.notifications.police import escalate_to_police
from camera_registry.timezones import local_time

REPLY_WITHIN = timedelta(minutes=3)
RETENTION_DAYS = 7


@pytest.fixture()
def week_long_recorder(session, world):
    """Owner a's recorder keeps a week of footage."""
    session.get(Recorder, world.objects["a"]["recorder"]).retention_days = RETENTION_DAYS
    session.flush()


@pytest.fixture()
def sms_only(app, esms_simulator):
    return channel_settings(app, **esms_config(esms_simulator))


def test_a_three_minute_reply_deadline_leaves_the_keep_until_at_the_recorders_week(
    session, world, week_long_recorder, sms_only, esms_simulator
):
    window_start = DAY - timedelta(hours=3)
    [assignment] = route(
        session, sms_only, window_start=window_start, window_end=DAY - timedelta(hours=2), deadline=DAY + REPLY_WITHIN
    ).assignments
    keep_until = window_start + timedelta(days=RETENTION_DAYS)
    assert (assignment.overwrite_deadline, assignment.preservation_deadline) == (keep_until, DAY + REPLY_WITHIN)

    [message] = outbox(session, assignment_id=assignment.id)
    parameters = message.payload["parameters"]
    assert (parameters["keep_until"], parameters["deadline"]) == (
        local_time(keep_until),
        local_time(DAY + REPLY_WITHIN),
    )
    assert message.payload["overwrite_deadline"] == keep_until.isoformat()
    # The ZNS template takes both within Zalo's limits; the SMS carries both.
    TEMPLATES[MessageKind.REQUEST].zns_data({**parameters, "link": "https://camera.example.vn/o/" + "t" * 43})
    assert deliver_due(sessions_on(session), sms_only, now=DAY) == {"sent": 1}
    [sent] = esms_simulator.requests_to(esms_simulator.path)
    text = sent.json()["Content"]
    assert f"Giu den {local_time(keep_until)}, tra loi truoc {local_time(DAY + REPLY_WITHIN)}: " in text
    # The link the message carries lives until the footage is overwritten: an owner who agrees can still upload.
    [link] = session.scalars(select(OwnerLink).where(OwnerLink.assignment_id == assignment.id)).all()
    assert link.expires_at == keep_until


def test_the_owner_page_and_e_mail_tell_both_facts(client, session, world, week_long_recorder):
    now = datetime.now(UTC)  # the reply deadline is minutes away: from now, not from when the suite began
    window_start = now - timedelta(hours=3)
    [assignment] = file_request(
        session, window_start=window_start, window_end=now - timedelta(hours=2), deadline=now + REPLY_WITHIN
    ).assignments
    token = assignment_link(session, assignment)
    session.commit()
    keep_until = local_time(window_start + timedelta(days=RETENTION_DAYS))
    answer_by = local_time(now + REPLY_WITHIN)

    page = client.get(f"/o/{token}?lang=vi").get_data(as_text=True)
    assert f'<dd id="keep-until"><strong>{keep_until}</strong>' in page
    assert f'<dd id="answer-by"><strong>{answer_by}</strong>' in page and "Xin trả lời trước" in page
    english = client.get(f"/o/{token}?lang=en").get_data(as_text=True)
    assert "Please answer by" in english and f"<strong>{keep_until}</strong>" in english

    [email] = [message for message in outbox(session, assignment_id=assignment.id) if message.channel == Channel.EMAIL]
    assert f"Cần giữ dữ liệu đến: {keep_until} (sau thời điểm này đầu thu có thể ghi đè)" in email.body
    assert f"Công an cần câu trả lời trước: {answer_by}" in email.body


def test_without_a_reply_deadline_the_owner_is_told_only_when_to_keep_the_footage_until(
    client, session, world, week_long_recorder
):
    [assignment] = file_request(session).assignments
    token = assignment_link(session, assignment)
    session.commit()
    assert assignment.overwrite_deadline == assignment.preservation_deadline

    page = client.get(f"/o/{token}?lang=vi").get_data(as_text=True)
    assert f'<dd id="keep-until"><strong>{local_time(assignment.overwrite_deadline)}</strong>' in page
    assert 'id="answer-by"' not in page
    [email] = [message for message in outbox(session, assignment_id=assignment.id) if message.channel == Channel.EMAIL]
    assert "Công an cần câu trả lời trước" not in email.body


def test_the_police_are_warned_of_the_overwrite_time_not_of_their_own_reply_deadline(
    session, world, week_long_recorder, sms_only
):
    window_start = DAY - timedelta(hours=3)
    [assignment] = route(
        session, sms_only, window_start=window_start, window_end=DAY - timedelta(hours=2), deadline=DAY + REPLY_WITHIN
    ).assignments
    assignment.request.commune.police_phone = "84912000111"
    [warning] = escalate_to_police(session, assignment, "https://camera.example.vn", sms_only.channel_plan)
    keep_until = local_time(window_start + timedelta(days=RETENTION_DAYS))
    assert f"dữ liệu có thể bị ghi đè sau {keep_until}" in warning.body
