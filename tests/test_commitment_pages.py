"""The owner's commitment page at /o/<token>: the end date after renewing, one end date everywhere, a revocation
that asks first, and "ông/bà" wherever an owner is addressed."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po
from owner_support import NOW, commitment_link, fresh_csrf
from sqlalchemy import select

from camera_registry.models import AuditEvent, OutboxMessage, OwnerLink, SharingCommitment
from camera_registry.services.channels.templates import templates_in
from camera_registry.services.commitments import shared_recorder_ids
from camera_registry.services.notifications import invite_renewal
from camera_registry.services.owner_answers import commitment_text
from camera_registry.timezones import local_time, local_today

ROOT = Path(__file__).resolve().parent.parent
#: The informal "you" an owner must never read; they are "ông/bà".
INFORMAL_YOU = re.compile(r"\bbạn\b", re.IGNORECASE)


def page_text(response) -> str:
    return response.get_data(as_text=True)


def commitment_of(session, world) -> SharingCommitment:
    return session.get(SharingCommitment, world.objects["a"]["commitment"])


def answer(client, token, action, **fields):
    return client.post(f"/o/{token}", data={"csrf_token": fresh_csrf(client, token), "action": action, **fields})


def test_after_renewing_the_page_shows_the_new_end_date(client, session, world):
    token, _ = commitment_link(session, world)
    session.commit()
    old_day = local_time(commitment_of(session, world).valid_until - timedelta(microseconds=1), "%d/%m/%Y")
    assert f"có hiệu lực đến hết ngày {old_day}" in page_text(client.get(f"/o/{token}"))
    renewed = answer(client, token, "renew")
    assert renewed.status_code == 303
    page = page_text(client.get(renewed.headers["Location"]))
    session.expire_all()
    newest = session.scalars(select(SharingCommitment).order_by(SharingCommitment.id.desc())).first()
    new_day = local_time(newest.valid_until - timedelta(microseconds=1), "%d/%m/%Y")
    assert new_day != old_day and f"có hiệu lực đến hết ngày {new_day}" in page
    assert f"ngày {local_time(newest.signed_at, '%d/%m/%Y')}" in page


@pytest.mark.parametrize(
    "valid_until, last_day",
    [
        (datetime(2027, 6, 30, 17, 0, tzinfo=UTC), "30/06/2027"),  # local midnight starting 1 July: exclusive
        (datetime(2027, 6, 30, 18, 0, tzinfo=UTC), "01/07/2027"),  # 01:00 on 1 July in Vietnam, 30 June in UTC
    ],
)
def test_the_page_and_the_messages_name_the_same_last_day(
    client, session, world, notification_settings, valid_until, last_day
):
    commitment = commitment_of(session, world)
    commitment.valid_until = valid_until
    token, _ = commitment_link(session, world)
    messages = invite_renewal(session, commitment, "http://127.0.0.1:5000", notification_settings.channel_plan, NOW)
    session.commit()
    assert f"có hiệu lực đến hết ngày {last_day}." in page_text(client.get(f"/o/{token}"))
    assert messages and all(last_day in message.body for message in messages)
    assert all(message.payload.get("parameters", {}).get("last_day", last_day) == last_day for message in messages)
    other_day = {"30/06/2027": "01/07/2027", "01/07/2027": "30/06/2027"}[last_day]
    assert all(other_day not in message.body for message in messages)


def test_revoking_asks_for_confirmation_and_ends_sharing_at_once(client, session, world):
    token, owner_id = commitment_link(session, world)
    session.commit()
    page = page_text(client.get(f"/o/{token}"))
    renew_at, revoke_at = page.index('id="renew-form"'), page.index('id="revoke"')
    assert renew_at < revoke_at and 'class="danger"' in page[revoke_at:]
    assert client.post(f"/o/{token}", data={"action": "revoke", "confirm": "yes"}).status_code == 400  # no CSRF

    unconfirmed = answer(client, token, "revoke")
    assert unconfirmed.status_code == 422 and "confirm" in page_text(unconfirmed)
    session.expire_all()
    assert commitment_of(session, world).revoked_at is None
    assert session.scalar(select(OwnerLink.used_at).where(OwnerLink.owner_id == owner_id)) is None

    recorder_id = world.objects["a"]["recorder"]
    assert shared_recorder_ids(session, [recorder_id], datetime.now(UTC)) == {recorder_id}
    assert answer(client, token, "revoke", confirm="yes", note="chuyển nhà").status_code == 303
    session.expire_all()
    assert commitment_of(session, world).revoked_at is not None
    assert shared_recorder_ids(session, [recorder_id], datetime.now(UTC)) == set()


def test_revoking_after_a_renewal_ends_the_renewed_row_and_the_one_it_renewed(client, session, world):
    renew_token, owner_id = commitment_link(session, world)
    revoke_token, _ = commitment_link(session, world)
    session.commit()
    assert answer(client, renew_token, "renew").status_code == 303
    today = local_today()
    renewed_until = today.replace(year=today.year + 3)
    assert f"hết ngày {renewed_until:%d/%m/%Y}" in page_text(client.get(f"/o/{revoke_token}"))  # the current one
    assert answer(client, revoke_token, "revoke", confirm="yes").status_code == 303
    session.expire_all()
    rows = session.scalars(select(SharingCommitment).where(SharingCommitment.owner_id == owner_id)).all()
    assert len(rows) == 2 and all(row.revoked_at is not None for row in rows)


def test_signing_for_the_first_time_keeps_the_text_read_with_the_signature(client, session, world):
    commitment_of(session, world).revoked_at = NOW - timedelta(days=1)
    token, owner_id = commitment_link(session, world, commitment=False)
    session.commit()
    page = page_text(client.get(f"/o/{token}?lang=en"))
    assert 'id="sign-form"' in page and 'id="revoke"' not in page
    assert answer(client, token, "sign").status_code == 303
    signed = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "commitment.sign").order_by(AuditEvent.id.desc())
    ).first()
    text = commitment_text("en")
    assert signed.details["text_version"] == text.version and signed.details["text"] == text.full_text
    assert "Commitment to share security camera footage" in signed.details["text"]


def owner_msgids() -> set[str]:
    """Every message id the owner's pages and messages use, as babel.cfg extracts them."""
    method_map = [
        ("camera_registry/web/owner.py", "python"),
        ("camera_registry/services/notifications/**.py", "python"),
        ("camera_registry/web/templates/owner/**.html", "jinja2"),
    ]
    keywords = {**DEFAULT_KEYWORDS, "say": (2,)}
    return {
        message if isinstance(message, str) else message[0]
        for _, _, message, _, _ in extract_from_dir(str(ROOT), method_map=method_map, keywords=keywords)
    }


def test_owners_are_addressed_as_ong_ba_on_pages_in_messages_and_in_the_texts():
    with (ROOT / "camera_registry/translations/vi/LC_MESSAGES/messages.po").open("rb") as po:
        catalog = read_po(po)
    informal = sorted(
        msgid for msgid in owner_msgids() if catalog.get(msgid) and INFORMAL_YOU.search(catalog.get(msgid).string)
    )
    assert informal == []
    for template in templates_in("vi").values():
        assert not INFORMAL_YOU.search(f"{template.zns_text or ''} {template.short}"), template.kind
    for path in (ROOT / "camera_registry/commitment_texts").glob("*.md"):
        assert not INFORMAL_YOU.search(path.read_text(encoding="utf-8")), path.name


def test_the_owner_messages_queued_say_ong_ba(session, world, notification_settings):
    commitment = commitment_of(session, world)
    invite_renewal(session, commitment, "http://127.0.0.1:5000", notification_settings.channel_plan, NOW)
    bodies = session.scalars(select(OutboxMessage.body)).all()
    assert bodies and all("ông/bà" in body and not INFORMAL_YOU.search(body) for body in bodies)
