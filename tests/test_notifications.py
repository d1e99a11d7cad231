"""The outbox and its deliverer, against a real local HTTP gateway and a real local SMTP server."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.header import decode_header, make_header

from conftest import WEBHOOK_SECRET
from notify_support import BASE_URL, IN_VIEW, messages, routed_request, sessions_on
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from translation_support import has_vietnamese

from camera_registry.models import (
    AssignmentStatus,
    AuditEvent,
    Channel,
    FootageRequest,
    MessageStatus,
    OutboxMessage,
    Owner,
    OwnerLink,
)
from camera_registry.services.delivery import CLAIM_LEASE, claim_due, deliver_due, send
from camera_registry.services.notifications import TOKEN_SLOT
from camera_registry.services.owner_links import LinkState, resolve_link
from camera_registry.timezones import LOCAL_ZONE


def link_in(text: str) -> str:
    return next(word for word in text.split() if word.startswith(f"{BASE_URL}/o/"))


def test_a_routed_request_tells_its_owner_on_each_channel(
    client, world, session, notification_settings, webhook_receiver, smtp_receiver
):
    start = datetime.now(LOCAL_ZONE).replace(second=0, microsecond=0) - timedelta(hours=3)
    response = client.post(
        "/api/v1/footage-requests",
        headers=world.headers["police_a"],
        json={
            "case_ref": "VV-2026-002",
            "reason": "Cướp giật",
            "legal_basis": "Điều 145 Bộ luật Tố tụng hình sự",
            "incident": {"type": "Point", "coordinates": list(IN_VIEW["a"].coords[0])},
            "window_start": start.isoformat(),
            "window_end": (start + timedelta(hours=1)).isoformat(),
        },
    )
    assert response.status_code == 201, response.get_json()
    [assignment] = response.get_json()["assignments"]
    assert assignment["status"] == "notified"
    webhook, email = messages(session, assignment_id=assignment["id"])
    assert (webhook.channel, webhook.recipient, webhook.idempotency_key) == (
        Channel.WEBHOOK,
        "0912345678",
        f"assignment:{assignment['id']}:request:webhook",
    )
    assert (email.channel, email.recipient, email.idempotency_key) == (
        Channel.EMAIL,
        "a@example.vn",
        f"assignment:{assignment['id']}:request:email",
    )
    assert webhook.status == MessageStatus.PENDING and webhook.subject == ""
    # The waiting message holds a placeholder, not a link: the link is minted when it is sent.
    assert f"/o/{TOKEN_SLOT}" in webhook.body and f"/o/{TOKEN_SLOT}" in email.body
    assert deliver_due(sessions_on(session), notification_settings) == {"sent": 2}
    text = webhook_receiver.received[0].json()["text"]
    # The test app keeps the default PUBLIC_BASE_URL; the link leads to this assignment and nothing else.
    token = next(word for word in text.split() if "/o/" in word).rsplit("/o/", 1)[1]
    resolved = resolve_link(session, token)
    assert resolved.state == LinkState.LIVE and resolved.link.assignment_id == assignment["id"]
    assert resolved.link.expires_at == datetime.fromisoformat(assignment["preservation_deadline"])
    assert start.strftime("%d/%m/%Y %H:%M") in text  # local time, as the police typed it
    assert "VV-2026-002" in text
    assert len(text) < 320
    assert email.subject == "Đề nghị trích xuất dữ liệu camera – vụ việc VV-2026-002"
    mail = smtp_receiver.messages[0].get_content()
    assert "Căn cứ pháp lý: Điều 145" in mail and "lens-a" in mail
    mailed = next(word for word in mail.split() if "/o/" in word).rsplit("/o/", 1)[1]
    assert mailed != token and resolve_link(session, mailed).link.assignment_id == assignment["id"]  # its own link
    notify = session.scalar(select(AuditEvent).where(AuditEvent.action == "assignment.notify"))
    assert (notify.entity_id, notify.from_state, notify.to_state) == (str(assignment["id"]), "pending", "notified")


def test_an_owner_who_reads_english_is_written_to_in_english_and_others_in_vietnamese(
    world, session, notification_settings, webhook_receiver, smtp_receiver
):
    session.get(Owner, world.objects["a"]["owner"]).language = "en"
    [assignment] = routed_request(session, case_ref="VV-2026-778").assignments
    webhook, email = messages(session, assignment_id=assignment.id)
    assert webhook.payload["language"] == email.payload["language"] == "en"
    assert webhook.body.startswith("Police of Xã A asks you to keep and hand over camera footage")
    assert email.subject == "Request for camera footage – case VV-2026-778"
    deliver_due(sessions_on(session), notification_settings)
    [mail] = smtp_receiver.messages
    body = mail.get_content()
    assert body.startswith("Dear Owner a,") and "Legal basis: Điều 145" in body
    assert "Times are Vietnam time (UTC+7)." in body and "giờ Việt Nam" not in body
    assert f"How your personal data is kept and used: {BASE_URL}/privacy?lang=en" in body
    assert not has_vietnamese(webhook_receiver.received[0].json()["text"].replace("Xã", ""))

    [other] = routed_request(session, commune="b", case_ref="VV-2026-779").assignments
    [vietnamese] = messages(session, assignment_id=other.id, channel=Channel.EMAIL)
    assert vietnamese.payload["language"] == "vi" and vietnamese.body.startswith("Kính gửi Owner b,")
    assert f"Cách dữ liệu cá nhân của ông/bà được lưu giữ và sử dụng: {BASE_URL}/privacy\n" in vietnamese.body + "\n"


def test_messages_roll_back_with_the_routing(world, session):
    savepoint = session.begin_nested()
    request = routed_request(session)
    assert len(messages(session, assignment_id=request.assignments[0].id)) == 2
    savepoint.rollback()
    assert session.scalar(select(func.count()).select_from(FootageRequest)) == 0
    assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    assert session.scalar(select(func.count()).select_from(OwnerLink)) == 0


def test_an_owner_without_phone_or_email_stays_pending_for_the_police_to_call(world, session):
    owner = session.get(Owner, world.objects["a"]["owner"])
    owner.phone = owner.email = None
    [assignment] = routed_request(session).assignments
    assert assignment.status == AssignmentStatus.PENDING
    assert messages(session) == []


def test_webhook_body_is_signed_and_carries_the_idempotency_key(
    world, session, notification_settings, webhook_receiver, smtp_receiver
):
    [assignment] = routed_request(session).assignments
    assert deliver_due(sessions_on(session), notification_settings) == {"sent": 2}
    [received] = webhook_receiver.received
    expected = "sha256=" + hmac.new(WEBHOOK_SECRET.encode(), received.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(received.headers["X-Signature"], expected)
    assert received.headers["Idempotency-Key"] == f"assignment:{assignment.id}:request:webhook"
    payload = received.json()
    assert payload["to"] == "0912345678" and payload["idempotency_key"] == received.headers["Idempotency-Key"]
    assert link_in(payload["text"]) == payload["data"]["link"]
    tampered = received.body.replace(b"0912345678", b"0999999999")
    assert hmac.new(WEBHOOK_SECRET.encode(), tampered, hashlib.sha256).hexdigest() not in expected
    webhook = messages(session, channel=Channel.WEBHOOK)[0]
    assert (webhook.status, webhook.attempts, webhook.leased_until) == (MessageStatus.SENT, 1, None)


def test_email_is_delivered_with_subject_and_body(world, session, notification_settings, smtp_receiver):
    [assignment] = routed_request(session, case_ref="VV-2026-777").assignments
    deliver_due(sessions_on(session), notification_settings)
    [mail] = smtp_receiver.messages
    assert str(make_header(decode_header(mail["Subject"]))) == "Đề nghị trích xuất dữ liệu camera – vụ việc VV-2026-777"
    assert mail["To"] == "a@example.vn" and mail["From"] == notification_settings.email_from
    assert mail["Idempotency-Key"] == f"assignment:{assignment.id}:request:email"
    body = mail.get_content()
    assert body.startswith("Kính gửi Owner a,") and link_in(body).startswith(f"{BASE_URL}/o/")
    assert "giờ Việt Nam" in body
    assert messages(session, channel=Channel.EMAIL)[0].status == MessageStatus.SENT


def test_a_failed_send_is_retried_with_backoff(world, session, notification_settings, webhook_receiver):
    routed_request(session)
    webhook_receiver.fail_next(2, status=500)
    now = datetime.now(UTC)
    assert deliver_due(sessions_on(session), notification_settings, now) == {"retried": 1, "sent": 1}
    [webhook] = messages(session, channel=Channel.WEBHOOK)
    assert webhook.status == MessageStatus.PENDING and webhook.attempts == 1 and "HTTP 500" in webhook.last_error
    assert webhook.next_attempt_at == now + timedelta(seconds=30)
    assert deliver_due(sessions_on(session), notification_settings, now + timedelta(seconds=29)) == {}
    assert deliver_due(sessions_on(session), notification_settings, now + timedelta(seconds=30)) == {"retried": 1}
    [webhook] = messages(session, channel=Channel.WEBHOOK)
    assert webhook.next_attempt_at == now + timedelta(seconds=30 + 60)  # doubled
    assert deliver_due(sessions_on(session), notification_settings, now + timedelta(seconds=90)) == {"sent": 1}
    [webhook] = messages(session, channel=Channel.WEBHOOK)
    assert (webhook.status, webhook.attempts, webhook.last_error) == (MessageStatus.SENT, 3, None)
    assert {request.headers["Idempotency-Key"] for request in webhook_receiver.received} == {webhook.idempotency_key}


def test_a_message_goes_dead_after_the_last_try_and_is_audited(world, session, notification_settings, webhook_receiver):
    settings = replace(notification_settings, max_attempts=3)
    routed_request(session)
    webhook_receiver.fail_next(100, status=503)
    now = datetime.now(UTC)
    outcomes = [deliver_due(sessions_on(session), settings, now + timedelta(hours=hours)) for hours in range(4)]
    assert outcomes == [{"retried": 1, "sent": 1}, {"retried": 1}, {"dead": 1}, {}]
    [webhook] = messages(session, channel=Channel.WEBHOOK)
    assert (webhook.status, webhook.attempts) == (MessageStatus.DEAD, 3) and "HTTP 503" in webhook.last_error
    assert len(webhook_receiver.received) == 3
    dead = session.scalar(select(AuditEvent).where(AuditEvent.action == "notification.dead"))
    assert (dead.entity_type, dead.entity_id, dead.to_state) == ("outbox_message", str(webhook.id), "dead")
    assert dead.details["idempotency_key"] == webhook.idempotency_key and "0912345678" not in str(dead.details)


def test_a_deliverer_killed_mid_batch_loses_nothing(
    world, session, db_connection, notification_settings, webhook_receiver, smtp_receiver
):
    for commune in ("a", "b", "a"):
        routed_request(session, commune)
    now = datetime.now(UTC)
    doomed = Session(bind=db_connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    batch = claim_due(doomed, notification_settings, now, "doomed")
    doomed.commit()
    assert len(batch) == 6
    send(batch[0], notification_settings)  # one message got out, then the process died before recording it
    doomed.close()

    survivor = sessions_on(session)
    assert deliver_due(survivor, notification_settings, now + timedelta(seconds=5)) == {}  # still leased
    assert deliver_due(survivor, notification_settings, now + CLAIM_LEASE + timedelta(seconds=1)) == {"sent": 6}
    assert {message.status for message in messages(session)} == {MessageStatus.SENT}
    delivered = [request.headers["Idempotency-Key"] for request in webhook_receiver.received] + [
        mail["Idempotency-Key"] for mail in smtp_receiver.messages
    ]
    keys = {message.idempotency_key for message in batch}
    assert set(delivered) == keys and len(delivered) == 7  # at least once: the first one twice, same key
    assert delivered.count(batch[0].idempotency_key) == 2


def test_an_unconfigured_channel_keeps_its_messages_waiting(world, session, notification_settings, smtp_receiver):
    routed_request(session)
    no_webhook = replace(notification_settings, webhook_url="")
    assert deliver_due(sessions_on(session), no_webhook) == {"sent": 1}  # the e-mail
    [webhook] = messages(session, channel=Channel.WEBHOOK)
    assert webhook.status == MessageStatus.PENDING and webhook.attempts == 0
    assert "NOTIFY_WEBHOOK_URL" in webhook.last_error
    assert deliver_due(sessions_on(session), notification_settings) == {"sent": 1}


def test_a_message_that_can_never_be_sent_ends_dead_without_holding_up_the_rest(
    world, session, notification_settings, webhook_receiver, smtp_receiver
):
    session.get(Owner, world.objects["a"]["owner"]).email = "a@example.vn\nBcc: someone@example.com"
    routed_request(session)
    settings = replace(notification_settings, max_attempts=2)
    now = datetime.now(UTC)
    assert deliver_due(sessions_on(session), settings, now) == {"sent": 1, "retried": 1}
    assert deliver_due(sessions_on(session), settings, now + timedelta(minutes=1)) == {"dead": 1}
    [email] = messages(session, channel=Channel.EMAIL)
    assert email.status == MessageStatus.DEAD and email.last_error.startswith("ValueError")
    assert len(webhook_receiver.received) == 1 and smtp_receiver.messages == []


def test_no_message_ever_holds_an_owner_link(world, session, notification_settings, webhook_receiver, smtp_receiver):
    """Only link hashes are stored: a message holds a placeholder before and after it is sent."""
    [assignment] = routed_request(session).assignments
    assert deliver_due(sessions_on(session), notification_settings) == {"sent": 2}
    sent = link_in(webhook_receiver.received[0].json()["text"])  # the owner got a working link
    assert resolve_link(session, sent.rsplit("/o/", 1)[1]).state == LinkState.LIVE
    for message in session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.assignment_id == assignment.id)
        .execution_options(populate_existing=True)
    ):
        assert message.status == MessageStatus.SENT
        assert sent not in message.body and message.payload["link"] == f"{BASE_URL}/o/{TOKEN_SLOT}"
