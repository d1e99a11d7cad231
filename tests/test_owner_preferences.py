"""How an owner asks to be reached (issue 13, item 6): the contact form on the owner's pages, what the outbox then
does with the choice, and a ZNS refusal that means "not on Zalo" taking ZNS off the owner's route."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from channel_support import DAY, PHONE, channel_settings, esms_config, route, zns_config
from notify_support import messages as outbox
from notify_support import routed_request, run, sessions_on
from owner_support import fresh_csrf
from sqlalchemy import select

from camera_registry.models import AuditEvent, Channel, LinkPurpose, MessageStatus, Owner
from camera_registry.services.deadlines import remind_unanswered
from camera_registry.services.delivery import deliver_due
from camera_registry.services.owner_links import issue_link, revoke_links


@pytest.fixture()
def channels(app, zns_simulator, esms_simulator):
    """ZNS first, then eSMS."""
    return channel_settings(app, **zns_config(zns_simulator), **esms_config(esms_simulator))


def assignment_link(session, settings=None, **fields) -> tuple[Owner, str]:
    """A request routed to owner a and a live link to its assignment, committed so the app's requests see them."""
    [assignment] = (route(session, settings, **fields) if settings else routed_request(session, **fields)).assignments
    token = issue_link(
        session,
        owner=assignment.owner,
        purpose=LinkPurpose.ASSIGNMENT,
        assignment=assignment,
        expires_at=assignment.preservation_deadline,
    )
    session.commit()
    return assignment.owner, token


def choose(client, token: str, channel: str = "", opt_out: bool = False, **query):
    form = {"csrf_token": fresh_csrf(client, token), "action": "contact_preferences", "channel": channel}
    if opt_out:
        form["non_urgent_opt_out"] = "1"
    return client.post(f"/o/{token}/contact", data=form, query_string=query)


def preferences(session, owner: Owner) -> tuple[Channel | None, bool, bool]:
    session.expire_all()
    owner = session.get(Owner, owner.id)
    return owner.preferred_channel, owner.non_urgent_opt_out, owner.zalo


def audited(session, action: str) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def test_the_owner_puts_sms_first_and_opts_out_and_a_repeat_changes_nothing(client, world, session):
    owner, token = assignment_link(session)
    page = client.get(f"/o/{token}").get_data(as_text=True)
    assert 'id="contact-form"' in page and "Cách liên lạc với ông/bà" in page
    assert all(f'name="channel" value="{value}"' in page for value in ("", "zns", "sms", "email"))

    first = choose(client, token, "sms", opt_out=True)
    assert first.status_code == 303 and first.headers["Location"].endswith(f"/o/{token}")
    assert preferences(session, owner) == (Channel.SMS, True, True)
    [event] = audited(session, "owner.contact_preferences")
    assert (event.entity_type, event.entity_id, event.actor_label) == ("owner", str(owner.id), f"owner:{owner.id}")
    unchanged = {"zalo": True, "language": None}
    assert event.details["from"] == {"preferred_channel": None, "non_urgent_opt_out": False, **unchanged}
    assert event.details["to"] == {"preferred_channel": "sms", "non_urgent_opt_out": True, **unchanged}
    shown = client.get(f"/o/{token}").get_data(as_text=True)
    assert 'value="sms" checked' in shown and 'name="non_urgent_opt_out" value="1" checked' in shown

    again = choose(client, token, "sms", opt_out=True)
    assert again.status_code == 303 and len(audited(session, "owner.contact_preferences")) == 1

    assert choose(client, token, "", opt_out=False).status_code == 303  # "no preference", messages again
    assert preferences(session, owner) == (None, False, True)
    assert len(audited(session, "owner.contact_preferences")) == 2


def test_a_channel_the_owner_cannot_receive_is_refused_in_words(client, world, session):
    owner, token = assignment_link(session)
    session.get(Owner, owner.id).email = None
    session.commit()
    assert 'value="email"' not in client.get(f"/o/{token}").get_data(as_text=True)

    refused = choose(client, token, "email")
    assert refused.status_code == 400 and 'data-refusal="no_email"' in refused.get_data(as_text=True)
    assert "không có địa chỉ e-mail của ông/bà" in refused.get_data(as_text=True)
    in_english = choose(client, token, "email", lang="en").get_data(as_text=True)
    assert "We have no e-mail address for you" in in_english

    session.get(Owner, owner.id).phone = None
    session.commit()
    for channel in ("zns", "sms"):
        refused = choose(client, token, channel)
        assert refused.status_code == 400 and 'data-refusal="no_phone"' in refused.get_data(as_text=True)
    assert choose(client, token, "webhook").status_code == 422  # not an owner's choice
    assert preferences(session, owner) == (None, False, True) and audited(session, "owner.contact_preferences") == []


def test_the_commitment_page_takes_the_choice_and_a_dead_link_does_not(client, world, session):
    owner = session.get(Owner, world.objects["a"]["owner"])
    commitment = owner.commitments[0]
    token = issue_link(
        session,
        owner=owner,
        purpose=LinkPurpose.COMMITMENT,
        commitment=commitment,
        expires_at=datetime.now(UTC) + timedelta(days=30),
    )
    session.commit()
    assert 'id="contact-form"' in client.get(f"/o/{token}").get_data(as_text=True)
    assert choose(client, token, "zns", opt_out=True).status_code == 303
    assert preferences(session, owner) == (Channel.ZNS, True, True)

    csrf = fresh_csrf(client, token)
    revoke_links(session, commitment=commitment)
    session.commit()
    dead = client.post(f"/o/{token}/contact", data={"csrf_token": csrf, "channel": "sms"})
    assert dead.status_code == 410 and preferences(session, owner) == (Channel.ZNS, True, True)


def test_an_opted_out_owner_gets_no_reminder_but_a_new_urgent_request_still_comes(client, world, session, channels):
    later = datetime.now(UTC)
    owner, token = assignment_link(session, channels, now=later - channels.reminder_interval)
    assert choose(client, token, opt_out=True).status_code == 303

    assert run(remind_unanswered, session, channels, later) == {}
    assert outbox(session, kind="assignment.reminder") == []

    start = later - timedelta(days=13, hours=14)  # recordings the recorder overwrites within 24 hours: urgent
    window = {"window_start": start, "window_end": start + timedelta(hours=1)}
    [urgent] = route(session, channels, case_ref="VV-2026-002", now=later, **window).assignments
    assert urgent.owner_id == owner.id and urgent.preservation_deadline - later < timedelta(hours=24)
    [request] = outbox(session, assignment_id=urgent.id)
    assert (request.kind, request.channel, request.next_attempt_at) == ("assignment.request", Channel.ZNS, later)


def test_an_owner_who_prefers_sms_gets_sms_first(client, world, session, channels, zns_simulator, esms_simulator):
    owner, token = assignment_link(session)
    assert choose(client, token, "sms").status_code == 303
    assert preferences(session, owner) == (Channel.SMS, False, True)

    [assignment] = route(session, channels, case_ref="VV-2026-003").assignments
    [message] = outbox(session, assignment_id=assignment.id)
    assert message.channel == Channel.SMS
    assert deliver_due(sessions_on(session), channels, now=DAY) == {"sent": 1}
    [sent] = esms_simulator.requests_to(esms_simulator.path)
    assert sent.json()["Phone"] == PHONE and sent.json()["RequestId"] == message.idempotency_key
    assert zns_simulator.requests_to("/message/template") == []


def test_zns_114_clears_zalo_with_the_fallback_and_the_next_message_goes_by_sms(
    world, session, channels, zns_simulator, esms_simulator
):
    zns_simulator.phone_errors[PHONE] = -114
    [first] = route(session, channels).assignments
    owner = first.owner

    assert deliver_due(sessions_on(session), channels, now=DAY) == {"fell_back": 1}
    zns_message, sms_message = outbox(session, assignment_id=first.id)
    assert (zns_message.status, sms_message.channel) == (MessageStatus.FAILED, Channel.SMS)
    assert preferences(session, owner) == (None, False, False)
    [cleared] = audited(session, "owner.zalo_cleared")
    assert (cleared.entity_id, cleared.from_state, cleared.to_state) == (str(owner.id), "zalo", "not_zalo")
    assert cleared.details["outbox_message_id"] == zns_message.id and "-114" in cleared.note

    [second] = route(session, channels, case_ref="VV-2026-004").assignments
    [message] = outbox(session, assignment_id=second.id)
    assert message.channel == Channel.SMS
    assert deliver_due(sessions_on(session), channels, now=DAY) == {"sent": 2}
    assert len(zns_simulator.requests_to("/message/template")) == 1


def test_a_zns_refusal_for_the_night_keeps_the_owner_on_zalo(world, session, channels, zns_simulator):
    zns_simulator.phone_errors[PHONE] = -133
    [assignment] = route(session, channels).assignments

    assert deliver_due(sessions_on(session), channels, now=DAY) == {"fell_back": 1}
    assert preferences(session, assignment.owner) == (None, False, True)
    assert audited(session, "owner.zalo_cleared") == []


def test_the_owner_chooses_english_messages_and_their_page_opens_in_english(app, world, session):
    owner, token = assignment_link(session)
    client = app.test_client()
    form = {"csrf_token": fresh_csrf(client, token), "action": "contact_preferences", "message_language": "en"}
    assert client.post(f"/o/{token}/contact", data=form).status_code == 303
    session.expire_all()
    assert session.get(Owner, owner.id).language == "en"
    [event] = audited(session, "owner.contact_preferences")
    assert (event.details["from"]["language"], event.details["to"]["language"]) == (None, "en")

    fresh = app.test_client()  # another phone: no cookie, yet the owner's language
    page = fresh.get(f"/o/{token}").get_data(as_text=True)
    assert '<html lang="en"' in page and "How we contact you" in page
    assert 'name="message_language" value="en" checked' in page
    assert '<html lang="vi"' in fresh.get(f"/o/{token}?lang=vi").get_data(as_text=True)  # the switch still wins

    refused = client.post(
        f"/o/{token}/contact",
        data={**form, "csrf_token": fresh_csrf(client, token), "message_language": "fr"},
        query_string={"lang": "en"},
    )
    assert refused.status_code == 422 and 'data-error="message_language"' in refused.get_data(as_text=True)
    session.expire_all()
    assert session.get(Owner, owner.id).language == "en"
