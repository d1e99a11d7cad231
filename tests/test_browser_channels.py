"""Issue 13 in headless Chromium: an owner puts SMS first and opts out of non-urgent messages on their link's
page, and the next reminders do as they asked; the police's request page shows each message to an owner
queued, sent, delivered or failed, with its time, in Vietnamese and English.

The messages go through the outbox to the provider simulators (tests/provider_simulators.py), and eSMS's
delivery callbacks reach the live server's own receipts route. Requests are routed on day 3 before today at
10:00 in Vietnam, so no quiet hour holds a message back whatever the hour of the run.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from browser_support import point_in_front_of_a_lens, sign_in
from channel_support import at_local, esms_config, zns_config
from owner_support import assignment_link, police_actor
from shapely import Point
from sqlalchemy import select

from camera_registry.models import Assignment, Channel, MessageStatus, OutboxMessage, Owner
from camera_registry.services import requests
from camera_registry.services.deadlines import remind_unanswered
from camera_registry.services.delivery import deliver_due
from camera_registry.services.notifications import CHANNEL_PLAN, NotificationSettings
from camera_registry.timezones import local_time

ROUTED_AT = at_local(-3, 10)


@pytest.fixture()
def configure(live_server, monkeypatch):
    """Set channel settings on the live app (its receipts routes read them per request); the settings back."""

    def apply(config: dict) -> NotificationSettings:
        for name, value in {**config, "CHANNEL_TIMEOUT_SECONDS": "5"}.items():
            monkeypatch.setitem(live_server.app.config, name, value)
        return NotificationSettings.from_config(live_server.app.config)

    return apply


def sessions_of(live_server):
    return live_server.app.extensions["session_factory"]


def route_by_day(live_server, settings: NotificationSettings, case_ref: str, on_zalo: bool = False) -> int:
    """A request of Phường Đống Đa routed at ROUTED_AT with the installation's channels, to an owner with no
    preference yet (the same owner for every test) on Zalo or not; its first assignment."""
    lon, lat = point_in_front_of_a_lens(live_server.database_url)
    with sessions_of(live_server)() as session:
        for owner in session.scalars(select(Owner).where(Owner.phone.is_not(None))):
            owner.preferred_channel, owner.non_urgent_opt_out, owner.zalo = None, False, on_zalo
        session.flush()
        session.info[CHANNEL_PLAN] = settings.channel_plan
        request = requests.open_request(
            session,
            police_actor(session, live_server.username),
            case_ref=case_ref,
            reason="Trộm xe máy",
            legal_basis="Điều 145 BLTTHS 2015",
            incident=Point(lon, lat),
            window_start=ROUTED_AT - timedelta(hours=6),
            window_end=ROUTED_AT - timedelta(hours=5),
            public_base_url=live_server.url,
            now=ROUTED_AT,
        )
        assignment = request.assignments[0]
        session.commit()
        return assignment.id


def messages_of(live_server, assignment_id: int) -> list[OutboxMessage]:
    with sessions_of(live_server)() as session:
        return list(
            session.scalars(select(OutboxMessage).where(OutboxMessage.assignment_id == assignment_id).order_by("id"))
        )


def remind(live_server, settings: NotificationSettings, number: int) -> None:
    """The reminder job's run `number` reminder intervals after routing."""
    remind_unanswered(sessions_of(live_server), settings, ROUTED_AT + number * settings.reminder_interval)


def test_an_owner_puts_sms_first_and_opts_out_and_the_next_reminders_respect_it(
    phone, live_server, configure, zns_simulator, esms_simulator
):
    settings = configure({**zns_config(zns_simulator), **esms_config(esms_simulator)})
    assignment_id = route_by_day(live_server, settings, "VV-2026-131", on_zalo=True)
    [first] = messages_of(live_server, assignment_id)
    assert first.channel == Channel.ZNS  # on Zalo, no preference: ZNS first
    with sessions_of(live_server)() as session:
        token = assignment_link(session, session.get(Assignment, assignment_id))
        session.commit()

    phone.goto(f"{live_server.url}/o/{token}")
    form = phone.locator("#contact-form")
    form.locator("input[name=channel][value=sms]").check()
    with phone.expect_navigation():
        form.locator("button[type=submit]").click()
    assert phone.locator("#contact-form input[name=channel][value=sms]").is_checked()
    assert not phone.locator("#contact-form input[name=non_urgent_opt_out]").is_checked()

    remind(live_server, settings, 1)
    reminder = messages_of(live_server, assignment_id)[-1]
    assert (reminder.kind, reminder.channel) == ("assignment.reminder", Channel.SMS)  # SMS first, as asked

    phone.locator("#contact-form input[name=non_urgent_opt_out]").check()
    with phone.expect_navigation():
        phone.locator("#contact-form button[type=submit]").click()
    assert phone.locator("#contact-form input[name=non_urgent_opt_out]").is_checked()
    assert phone.locator("#contact-form input[name=channel][value=sms]").is_checked()

    remind(live_server, settings, 2)
    assert [message.id for message in messages_of(live_server, assignment_id)] == [first.id, reminder.id]


def delivery_lines(page) -> dict[int, str]:
    """The delivery column's lines by message id, spaces folded."""
    lines = page.locator("td.deliveries li[data-message]")
    return {
        int(lines.nth(index).get_attribute("data-message")): " ".join(lines.nth(index).inner_text().split())
        for index in range(lines.count())
    }


def test_police_see_each_message_queued_sent_delivered_or_failed_with_its_time_in_both_languages(
    page, live_server, configure, esms_simulator
):
    settings = configure(esms_config(esms_simulator))
    assignment_id = route_by_day(live_server, settings, "VV-2026-132")
    sessions = sessions_of(live_server)

    def send_and_receipt(delivered: bool | None) -> OutboxMessage:
        deliver_due(sessions, settings)
        sent = messages_of(live_server, assignment_id)[-1]
        assert sent.status == MessageStatus.SENT and sent.provider == "esms"
        if delivered is not None:  # eSMS calls the message's CallbackUrl on the live server
            assert esms_simulator.deliver(sent.provider_message_id, delivered=delivered) == 200
        return sent

    request_sms = send_and_receipt(delivered=True)
    remind(live_server, settings, 1)
    failed_reminder = send_and_receipt(delivered=False)
    remind(live_server, settings, 2)
    sent_reminder = send_and_receipt(delivered=None)
    remind(live_server, settings, 3)
    queued_reminder = messages_of(live_server, assignment_id)[-1]
    assert queued_reminder.status == MessageStatus.PENDING and queued_reminder.kind == "assignment.reminder"
    stored = {message.id: message for message in messages_of(live_server, assignment_id)}
    with sessions() as session:
        request_id = session.get(Assignment, assignment_id).request_id

    sign_in(page, live_server, live_server.username)
    expected = {
        "vi": {
            request_sms.id: ("đề nghị · tin nhắn SMS: đã đến máy", stored[request_sms.id].delivered_at),
            failed_reminder.id: ("nhắc lại · tin nhắn SMS: không đến được", stored[failed_reminder.id].failed_at),
            sent_reminder.id: ("nhắc lại · tin nhắn SMS: đã gửi", stored[sent_reminder.id].sent_at),
            queued_reminder.id: ("nhắc lại · tin nhắn SMS: đang chờ gửi", stored[queued_reminder.id].created_at),
        },
        "en": {
            request_sms.id: ("request · SMS message: delivered", stored[request_sms.id].delivered_at),
            failed_reminder.id: ("reminder · SMS message: failed", stored[failed_reminder.id].failed_at),
            sent_reminder.id: ("reminder · SMS message: sent", stored[sent_reminder.id].sent_at),
            queued_reminder.id: ("reminder · SMS message: queued", stored[queued_reminder.id].created_at),
        },
    }
    for lang, lines in expected.items():
        page.goto(f"{live_server.url}/requests/{request_id}?lang={lang}")
        shown = delivery_lines(page)
        for message_id, (words, moment) in lines.items():
            assert shown[message_id].startswith(f"#{message_id} {words} {local_time(moment)}"), shown[message_id]
        header = page.locator("#assignments thead").inner_text()
        assert ("Tin nhắn gửi chủ camera" if lang == "vi" else "Messages to the owner") in header
        assert not re.search(r"/o/[A-Za-z0-9_-]{20,}", page.content()), "no owner link on the police's page"
