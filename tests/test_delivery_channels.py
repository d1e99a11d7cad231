"""The outbox speaking Zalo ZNS and SMS brandname (issue 13): first channels, provider outcomes, fallback,
receipts and quiet hours, against the local provider simulators (tests/provider_simulators.py)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from channel_support import DAY, PHONE, at_local, channel_settings, esms_config, route, zns_config
from notify_support import messages as outbox
from notify_support import run, sessions_on
from sqlalchemy import select
from sqlalchemy.orm import Session

from camera_registry.db import make_engine, make_session_factory, write_unit
from camera_registry.models import AuditEvent, Channel, MessageStatus, OutboxMessage, Owner, OwnerLink, ProviderToken
from camera_registry.services.channels import speedsms, zns
from camera_registry.services.channels.base import Outcome, OutcomeKind, Outgoing
from camera_registry.services.channels.templates import ZNS_KINDS, MessageKind
from camera_registry.services.deadlines import escalate_near_deadline, fall_back_unreceipted, remind_unanswered
from camera_registry.services.delivery import CLAIM_LEASE, claim_due, deliver_due, send
from camera_registry.services.delivery.zns_tokens import DatabaseTokenStore
from camera_registry.services.notifications import (
    ChannelSetupError,
    NotificationSettings,
    check_templates,
)
from camera_registry.services.owner_links import LinkState, resolve_link, token_hash


@pytest.fixture()
def zns_and_sms(app, zns_simulator, esms_simulator) -> NotificationSettings:
    """ZNS first, eSMS second; no webhook and no SMTP."""
    return channel_settings(app, **zns_config(zns_simulator), **esms_config(esms_simulator))


@pytest.fixture()
def hooks(app, monkeypatch, zns_simulator, esms_simulator) -> NotificationSettings:
    """The app itself configured for ZNS and eSMS, so its receipts routes answer."""
    for name, value in {**zns_config(zns_simulator), **esms_config(esms_simulator)}.items():
        monkeypatch.setitem(app.config, name, value)
    return channel_settings(app)


@pytest.fixture()
def sms_only(app, esms_simulator) -> NotificationSettings:
    return channel_settings(app, **esms_config(esms_simulator))


def links_of(session: Session, assignment_id: int) -> list[OwnerLink]:
    return list(
        session.scalars(
            select(OwnerLink)
            .where(OwnerLink.assignment_id == assignment_id)
            .order_by(OwnerLink.id)
            .execution_options(populate_existing=True)
        )
    )


def test_an_owner_on_zalo_gets_one_zns_which_is_accepted_and_sent(world, session, zns_and_sms, zns_simulator):
    [assignment] = route(session, zns_and_sms).assignments
    [message] = outbox(session, assignment_id=assignment.id)
    assert (message.channel, message.idempotency_key) == (Channel.ZNS, f"assignment:{assignment.id}:request:zns")

    assert deliver_due(sessions_on(session), zns_and_sms, now=DAY) == {"sent": 1}

    [message] = outbox(session, assignment_id=assignment.id)
    [sent] = zns_simulator.requests_to("/message/template")
    body = sent.json()
    assert body["phone"] == PHONE and body["template_id"] == "tpl-request"
    assert body["tracking_id"] == message.idempotency_key
    assert message.status == MessageStatus.SENT and message.provider == "zns"
    assert message.provider_message_id in zns_simulator.messages
    token = body["template_data"]["link"].rsplit("/o/", 1)[1]
    assert resolve_link(session, token).state == LinkState.LIVE


def test_an_english_reader_goes_by_sms_in_english_until_zalo_approved_english_templates(
    app, world, session, zns_and_sms, zns_simulator, esms_simulator
):
    session.get(Owner, world.objects["a"]["owner"]).language = "en"
    [assignment] = route(session, zns_and_sms).assignments
    [message] = outbox(session, assignment_id=assignment.id)
    assert message.channel == Channel.SMS and message.payload["language"] == "en"
    assert deliver_due(sessions_on(session), zns_and_sms, now=DAY) == {"sent": 1}
    [sent] = esms_simulator.received
    assert sent.json()["Content"].startswith("Police of Xa A asks you to keep and hand over camera footage")

    english_ids = {f"CHANNEL_ZNS_TEMPLATE_{kind.name}_EN": f"tpl-{kind.name.lower()}-en" for kind in ZNS_KINDS}
    both = channel_settings(app, **zns_config(zns_simulator), **esms_config(esms_simulator), **english_ids)
    [again] = route(session, both, case_ref="VV-2026-780").assignments
    [message] = outbox(session, assignment_id=again.id)
    assert message.channel == Channel.ZNS
    assert deliver_due(sessions_on(session), both, now=DAY) == {"sent": 1}
    [zns_sent] = zns_simulator.requests_to("/message/template")
    assert zns_sent.json()["template_id"] == "tpl-request-en"
    assert zns_sent.json()["template_data"]["police_unit"] == "Police of Xã A"


def test_zns_refused_with_114_fails_and_the_sms_goes_with_the_same_kind_superseding_the_link(
    world, session, zns_and_sms, zns_simulator, esms_simulator
):
    zns_simulator.phone_errors[PHONE] = -114
    [assignment] = route(session, zns_and_sms).assignments

    assert deliver_due(sessions_on(session), zns_and_sms, now=DAY) == {"fell_back": 1}
    zns_message, sms_message = outbox(session, assignment_id=assignment.id)
    assert zns_message.status == MessageStatus.FAILED and "-114" in zns_message.receipt_detail
    assert zns_message.failed_at is not None
    assert (sms_message.channel, sms_message.kind, sms_message.falls_back_from_id) == (
        Channel.SMS,
        "assignment.request",
        zns_message.id,
    )
    assert sms_message.idempotency_key == f"assignment:{assignment.id}:request:sms"
    [refused_link] = links_of(session, assignment.id)

    assert deliver_due(sessions_on(session), zns_and_sms, now=DAY) == {"sent": 1}
    [sent] = esms_simulator.requests_to(esms_simulator.path)
    assert sent.json()["Phone"] == PHONE and sent.json()["RequestId"] == sms_message.idempotency_key
    token = sent.json()["Content"].rsplit("/o/", 1)[1]
    old, new = links_of(session, assignment.id)
    assert old.id == refused_link.id and old.revoked_at is not None  # one assignment, one live link
    assert new.token_hash == token_hash(token) and resolve_link(session, token).state == LinkState.LIVE
    failed = session.scalar(select(AuditEvent).where(AuditEvent.action == "notification.failed"))
    assert failed.details["fallback"] == {"id": sms_message.id, "channel": "sms"}


def test_a_repeated_esms_request_id_answered_124_counts_as_sent(world, session, sms_only, esms_simulator):
    [assignment] = route(session, sms_only).assignments
    sessions, now = sessions_on(session), datetime.now(UTC)
    [claimed] = write_unit(sessions, lambda unit: claim_due(unit, sms_only, now, "deliverer-that-dies"))
    send(claimed, sms_only)  # eSMS has it; the deliverer died before recording it

    assert deliver_due(sessions, sms_only, now=now + CLAIM_LEASE + timedelta(seconds=1)) == {"sent": 1}
    [message] = outbox(session, assignment_id=assignment.id)
    assert message.status == MessageStatus.SENT and message.provider == "esms"
    assert "already has RequestId" in message.receipt_detail
    assert [request.json()["RequestId"] for request in esms_simulator.requests_to(esms_simulator.path)] == [
        message.idempotency_key
    ] * 2


def test_esms_146_is_a_configuration_error_dead_at_once_and_flagged_for_admins(
    world, session, sms_only, esms_simulator
):
    esms_simulator.phone_errors[PHONE] = "146"
    [assignment] = route(session, sms_only).assignments

    assert deliver_due(sessions_on(session), sms_only, now=DAY) == {"config_error": 1}
    [message] = outbox(session, assignment_id=assignment.id)
    assert message.status == MessageStatus.DEAD and message.attempts == 1 and "146" in message.last_error
    flagged = session.scalar(select(AuditEvent).where(AuditEvent.action == "notification.config_error"))
    assert (flagged.entity_id, flagged.to_state) == (str(message.id), "dead")
    later = datetime.now(UTC) + timedelta(hours=2)
    assert deliver_due(sessions_on(session), sms_only, now=later) == {}  # not retried
    assert len(esms_simulator.requests_to(esms_simulator.path)) == 1


def test_the_start_up_check_demands_a_zns_template_for_each_owner_kind_and_none_for_the_escalation(app, zns_simulator):
    check_templates(channel_settings(app, **zns_config(zns_simulator)))

    without_renewal = {**zns_config(zns_simulator), "CHANNEL_ZNS_TEMPLATE_RENEWAL": ""}
    with pytest.raises(ChannelSetupError) as refused:
        check_templates(channel_settings(app, **without_renewal))
    assert str(refused.value).endswith("commitment.renewal: no ZNS template id (CHANNEL_ZNS_TEMPLATE_RENEWAL)")
    assert "ESCALATION" not in str(refused.value)


def test_with_zns_and_sms_the_escalation_goes_to_the_police_duty_phone_by_sms(
    world, session, zns_and_sms, zns_simulator, esms_simulator
):
    world.commune_a.police_phone = "84987654321"  # stored normalised, as every entry path stores it
    [assignment] = route(session, zns_and_sms).assignments
    assert deliver_due(sessions_on(session), zns_and_sms, now=DAY) == {"sent": 1}
    near = assignment.preservation_deadline - zns_and_sms.escalation_window + timedelta(minutes=1)

    assert run(escalate_near_deadline, session, zns_and_sms, near) == {"escalated": 1}
    [escalation] = outbox(session, assignment_id=assignment.id, kind="assignment.escalation")
    assert (escalation.channel, escalation.recipient) == (Channel.SMS, "84987654321")
    assert deliver_due(sessions_on(session), zns_and_sms, now=near) == {"sent": 1}
    [sms] = esms_simulator.requests_to(esms_simulator.path)
    assert sms.json()["RequestId"] == escalation.idempotency_key and "/requests/" in sms.json()["Content"]
    assert len(zns_simulator.requests_to("/message/template")) == 1  # the owner's request only


def test_a_reminder_due_at_23_waits_for_07_and_an_urgent_request_at_23_goes_at_once(
    world, session, zns_and_sms, zns_simulator
):
    night = at_local(1, 23)
    routed_at = night - timedelta(hours=zns_and_sms.reminder_hours)
    [assignment] = route(
        session, zns_and_sms, now=routed_at, window_start=routed_at - timedelta(hours=3), window_end=routed_at
    ).assignments

    assert run(remind_unanswered, session, zns_and_sms, night) == {"reminded": 1}
    [reminder] = outbox(session, assignment_id=assignment.id, kind="assignment.reminder")
    assert reminder.next_attempt_at == at_local(2, 7)

    owner = session.get(Owner, world.objects["b"]["owner"])
    [urgent] = route(
        session,
        zns_and_sms,
        commune="b",
        now=night,
        window_start=night - timedelta(days=13, hours=14),
        window_end=night - timedelta(days=13, hours=13),
    ).assignments
    assert urgent.owner_id == owner.id and urgent.preservation_deadline - night < timedelta(hours=24)
    [request] = outbox(session, assignment_id=urgent.id)
    assert request.next_attempt_at == night


def test_an_urgent_request_refused_by_zns_at_23_goes_by_sms_at_once(world, session, zns_and_sms, zns_simulator):
    night = at_local(1, 23)
    zns_simulator.phone_errors[PHONE] = -114
    [urgent] = route(
        session,
        zns_and_sms,
        now=night,
        window_start=night - timedelta(days=13, hours=14),
        window_end=night - timedelta(days=13, hours=13),
    ).assignments
    assert urgent.preservation_deadline - night < timedelta(hours=24)

    assert deliver_due(sessions_on(session), zns_and_sms, now=night) == {"fell_back": 1}
    [_, sms] = outbox(session, assignment_id=urgent.id)
    assert (sms.channel, sms.next_attempt_at) == (Channel.SMS, night)
    assert deliver_due(sessions_on(session), zns_and_sms, now=night) == {"sent": 1}


# --------------------------------------------------------------------------- receipts


def sent_zns(session: Session, settings: NotificationSettings) -> OutboxMessage:
    [assignment] = route(session, settings).assignments
    assert deliver_due(sessions_on(session), settings, now=DAY) == {"sent": 1}
    [message] = outbox(session, assignment_id=assignment.id)
    return message


def zns_receipt(client, simulator, message: OutboxMessage, signature: str | None = None):
    body = simulator.event(message.provider_message_id, int(datetime.now(UTC).timestamp() * 1000))
    return client.post(
        "/hooks/zns",
        data=body,
        headers={"Content-Type": "application/json", "X-ZEvent-Signature": signature or simulator.sign(body)},
    )


def audited(session: Session, action: str) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_a_zns_receipt_moves_the_message_to_delivered_once(client, world, session, hooks, zns_simulator):
    message = sent_zns(session, hooks)

    first = zns_receipt(client, zns_simulator, message)
    assert first.status_code == 200 and first.get_json() == {"result": "delivered"}
    [message] = outbox(session, id=message.id)
    assert message.status == MessageStatus.DELIVERED and message.delivered_at is not None

    again = zns_receipt(client, zns_simulator, message)
    assert again.status_code == 200 and again.get_json() == {"result": "repeated"}
    [delivered] = audited(session, "notification.delivered")
    assert (delivered.entity_id, delivered.from_state, delivered.to_state) == (str(message.id), "sent", "delivered")


def test_a_receipt_that_overtakes_its_sends_record_is_409_and_applies_when_the_provider_calls_again(
    client, world, session, hooks, esms_simulator
):
    session.get(Owner, world.objects["a"]["owner"]).zalo = False  # SMS first
    [assignment] = route(session, hooks).assignments
    sessions = sessions_on(session)
    [claimed] = write_unit(sessions, lambda unit: claim_due(unit, hooks, DAY, "deliverer-that-dies"))
    assert send(claimed, hooks).sent  # eSMS has it; the deliverer died before recording it
    [sms_id] = esms_simulator.messages
    callback = urlsplit(esms_simulator.messages[sms_id]["CallbackUrl"])
    query = {"SMSID": sms_id, "SendStatus": "5", "SendSuccess": "1", "SendFailed": "0"}

    early = client.get(callback.path, query_string=query)
    assert early.status_code == 409 and early.get_json() == {"result": "early"}
    assert outbox(session, id=claimed.id)[0].status == MessageStatus.PENDING

    assert deliver_due(sessions, hooks, now=DAY + CLAIM_LEASE + timedelta(seconds=1)) == {"sent": 1}  # eSMS: 124
    again = client.get(callback.path, query_string=query)
    assert again.status_code == 200 and again.get_json() == {"result": "delivered"}
    assert outbox(session, assignment_id=assignment.id)[0].status == MessageStatus.DELIVERED


def test_a_zns_event_with_a_bad_signature_is_refused_and_changes_nothing(client, world, session, hooks, zns_simulator):
    message = sent_zns(session, hooks)

    assert zns_receipt(client, zns_simulator, message, signature="0" * 64).status_code == 401
    [message] = outbox(session, id=message.id)
    assert message.status == MessageStatus.SENT and audited(session, "notification.delivered") == []


def test_an_esms_callback_needs_its_secret_path_and_then_delivers(client, world, session, hooks, esms_simulator):
    session.get(Owner, world.objects["a"]["owner"]).zalo = False  # not on Zalo: SMS first
    [assignment] = route(session, hooks).assignments
    assert deliver_due(sessions_on(session), hooks, now=DAY) == {"sent": 1}
    [message] = outbox(session, assignment_id=assignment.id)
    assert message.channel == Channel.SMS
    [sent] = esms_simulator.requests_to(esms_simulator.path)
    callback = urlsplit(sent.json()["CallbackUrl"])
    query = {"SMSID": message.provider_message_id, "SendStatus": "5", "SendSuccess": "1", "SendFailed": "0"}

    assert client.get(callback.path[:-4] + "0000", query_string=query).status_code == 404
    assert outbox(session, id=message.id)[0].status == MessageStatus.SENT

    delivered = client.get(callback.path, query_string=query)
    assert delivered.status_code == 200 and delivered.get_json() == {"result": "delivered"}
    assert outbox(session, id=message.id)[0].status == MessageStatus.DELIVERED


@pytest.fixture()
def speedsms_hooks(app, monkeypatch, speedsms_simulator) -> NotificationSettings:
    """The app itself sending SMS by SpeedSMS (no ZNS), so its SpeedSMS receipts route answers."""
    for name, value in {
        "CHANNEL_SPEEDSMS_ACCESS_TOKEN": speedsms_simulator.access_token,
        "CHANNEL_SPEEDSMS_SENDER": "CAMERA_AN_NINH",
        "CHANNEL_SPEEDSMS_BASE_URL": speedsms_simulator.url + "/index.php",
        "CHANNEL_SPEEDSMS_WEBHOOK_SECRET": "test-webhook-secret",
    }.items():
        monkeypatch.setitem(app.config, name, value)
    return channel_settings(app)


def sent_speedsms(session: Session, settings: NotificationSettings, commune: str) -> OutboxMessage:
    [assignment] = route(session, settings, commune=commune).assignments
    assert deliver_due(sessions_on(session), settings, now=DAY) == {"sent": 1}
    [message] = outbox(session, assignment_id=assignment.id)
    assert (message.channel, message.provider) == (Channel.SMS, "speedsms")
    return message


def test_a_speedsms_report_on_its_secret_path_moves_a_sent_sms_to_delivered_or_failed_once(
    client, world, session, speedsms_hooks, speedsms_simulator
):
    delivered, failed = sent_speedsms(session, speedsms_hooks, "a"), sent_speedsms(session, speedsms_hooks, "b")
    path = urlsplit(speedsms.webhook_url(speedsms_hooks.sms)).path
    assert path.startswith("/hooks/speedsms/")
    report = speedsms_simulator.report_body(int(delivered.provider_message_id))

    assert client.post("/hooks/speedsms/" + "0" * 32, json=report).status_code == 404
    assert outbox(session, id=delivered.id)[0].status == MessageStatus.SENT

    first = client.post(path, json=report)
    assert first.status_code == 200 and first.get_json() == {"result": "delivered"}
    again = client.post(path, json=report)
    assert again.status_code == 200 and again.get_json() == {"result": "repeated"}
    [message] = outbox(session, id=delivered.id)
    assert message.status == MessageStatus.DELIVERED and message.delivered_at is not None
    assert len(audited(session, "notification.delivered")) == 1

    refused = client.post(path, json=speedsms_simulator.report_body(int(failed.provider_message_id), status=1))
    assert refused.status_code == 200 and refused.get_json() == {"result": "failed"}
    failed_message, email = outbox(session, assignment_id=failed.assignment_id)
    assert failed_message.status == MessageStatus.FAILED and "status 1" in failed_message.receipt_detail
    assert (email.channel, email.falls_back_from_id) == (Channel.EMAIL, failed_message.id)


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ("not json", "body", "a JSON object expected"),
        ([1, 2], "body", "a JSON object expected"),
        ({"type": "report", "status": 0}, "tranId", "missing"),
        ({"type": "report", "tranId": 100001, "status": "delivered"}, "status", "an integer expected"),
    ],
)
def test_a_malformed_speedsms_report_is_400_naming_the_field_and_changes_nothing(
    client, world, session, speedsms_hooks, body, field, reason
):
    message = sent_speedsms(session, speedsms_hooks, "a")
    path = urlsplit(speedsms.webhook_url(speedsms_hooks.sms)).path
    posted = (
        client.post(path, data=body, content_type="application/json")
        if isinstance(body, str)
        else client.post(path, json=body)
    )

    assert posted.status_code == 400 and posted.get_json() == {"errors": {field: [reason]}}
    assert outbox(session, id=message.id)[0].status == MessageStatus.SENT
    assert audited(session, "notification.delivered") == audited(session, "notification.failed") == []


def test_a_zns_without_a_receipt_in_time_falls_back_to_sms(world, session, zns_and_sms):
    message = sent_zns(session, zns_and_sms)
    waited = message.sent_at + zns_and_sms.receipt_wait

    assert run(fall_back_unreceipted, session, zns_and_sms, waited - timedelta(seconds=1)) == {}
    assert run(fall_back_unreceipted, session, zns_and_sms, waited) == {"fell_back": 1}
    zns_message, sms_message = outbox(session, assignment_id=message.assignment_id)
    assert zns_message.status == MessageStatus.FAILED and "no delivery receipt" in zns_message.receipt_detail
    assert (sms_message.channel, sms_message.kind, sms_message.falls_back_from_id) == (
        Channel.SMS,
        message.kind,
        message.id,
    )
    assert run(fall_back_unreceipted, session, zns_and_sms, waited + timedelta(hours=1)) == {}


# --------------------------------------------------------------------------- the OA tokens, kept in the database


REQUEST_VALUES = {
    "owner_name": "Nguyễn Văn An",
    "police_unit": "Công an xã A",
    "ask": "đồng ý cho trích xuất",
    "window_start": "20:00 01/03/2026",
    "window_end": "21:00 01/03/2026",
    "case_ref": "VV-2026-001",
    "keep_until": "20:00 15/03/2026",
    "deadline": "20:00 15/03/2026",
    "link": "https://camera.example.vn/o/" + "t" * 43,
}


def stored_tokens(session: Session) -> ProviderToken | None:
    return session.get(ProviderToken, "zns", populate_existing=True)


def test_an_expired_zns_token_is_refreshed_through_the_outbox_stored_and_the_message_sent_once(
    world, session, zns_and_sms, zns_simulator
):
    [assignment] = route(session, zns_and_sms).assignments
    zns_simulator.expire_access_token()  # 25 hours passed: Zalo answers -124 to the configured token

    assert deliver_due(sessions_on(session), zns_and_sms, now=DAY) == {"sent": 1}

    [message] = outbox(session, assignment_id=assignment.id)
    assert message.status == MessageStatus.SENT and message.provider_message_id in zns_simulator.messages
    assert len(zns_simulator.messages) == 1  # sent once: the refused try reached nobody
    assert [sent.headers["access_token"] for sent in zns_simulator.requests_to("/message/template")] == [
        "sim-access-1",
        "sim-access-2",
    ]
    assert [refresh.form()["refresh_token"] for refresh in zns_simulator.requests_to("/v4/oa/access_token")] == [
        "sim-refresh-1"
    ]
    row = stored_tokens(session)
    assert (row.access_token, row.refresh_token) == ("sim-access-2", "sim-refresh-2") and row.expires_at > DAY

    # A restarted deliverer (a new run, nothing in memory) sends with the stored pair and refreshes nothing.
    [other] = route(session, zns_and_sms, commune="b").assignments
    assert deliver_due(sessions_on(session), zns_and_sms, now=DAY) == {"sent": 1}
    assert zns_simulator.requests_to("/message/template")[-1].headers["access_token"] == "sim-access-2"
    assert len(zns_simulator.requests_to("/v4/oa/access_token")) == 1
    assert outbox(session, assignment_id=other.id)[0].status == MessageStatus.SENT


def test_a_stored_pair_zalo_refuses_gives_way_to_a_newly_configured_one(world, session, zns_and_sms, zns_simulator):
    session.add(ProviderToken(provider="zns", access_token="revoked-access", refresh_token="revoked-refresh"))
    route(session, zns_and_sms)

    assert deliver_due(sessions_on(session), zns_and_sms, now=DAY) == {"sent": 1}
    assert [refresh.form()["refresh_token"] for refresh in zns_simulator.requests_to("/v4/oa/access_token")] == [
        "revoked-refresh",
        "sim-refresh-1",  # the admin authorised the app again and configured the new pair
    ]
    assert stored_tokens(session).refresh_token == "sim-refresh-2"


def test_two_workers_refreshing_at_once_spend_the_refresh_token_once_and_both_send(
    own_database_url, zns_and_sms, zns_simulator
):
    engine = make_engine(own_database_url)
    sessions = make_session_factory(engine)
    zns_simulator.expire_access_token()
    zns_simulator.refresh_seconds = 0.5  # the second worker meets the -124 while the first is refreshing
    start = threading.Barrier(2)

    def worker(number: int) -> Outcome:
        store = DatabaseTokenStore(sessions, zns_and_sms.zns, holder=f"worker-{number}")
        provider = zns.ZnsProvider(zns_and_sms.zns, store)
        start.wait()
        return provider.send(Outgoing(f"assignment:{number}:request:zns", PHONE, MessageKind.REQUEST, REQUEST_VALUES))

    try:
        with ThreadPoolExecutor(2) as pool:
            outcomes = list(pool.map(worker, [1, 2]))
        with sessions() as session:
            row = session.get(ProviderToken, "zns")
            assert (row.access_token, row.refresh_token) == ("sim-access-2", "sim-refresh-2")
    finally:
        engine.dispose()

    assert [outcome.kind for outcome in outcomes] == [OutcomeKind.ACCEPTED, OutcomeKind.ACCEPTED]
    assert len(zns_simulator.requests_to("/v4/oa/access_token")) == 1
    accepted = [sent["tracking_id"] for sent in zns_simulator.messages.values()]
    assert sorted(accepted) == ["assignment:1:request:zns", "assignment:2:request:zns"]
