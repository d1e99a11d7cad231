"""Inviting an owner with no commitment to sign one: the service, `camera-registry commitments invite` and
POST /api/v1/commitments/invitations, through the outbox to a link the owner signs on."""

from __future__ import annotations

import re
from datetime import timedelta

from owner_support import NOW, fresh_csrf, police_actor
from sqlalchemy import select

from camera_registry.models import AuditEvent, LinkPurpose, OutboxMessage, OwnerLink, SharingCommitment
from camera_registry.services.commitment_invitations import INVITATION_DAYS, invite_to_sign
from camera_registry.services.notifications import mint_owner_link
from camera_registry.services.owner_answers import commitment_text
from camera_registry.services.owner_links import token_hash

BASE_URL = "http://127.0.0.1:5000"


def without_commitment(session, world, tag="a"):
    """Owner `tag`'s commitment revoked yesterday: the owner has none in force."""
    session.get(SharingCommitment, world.objects[tag]["commitment"]).revoked_at = NOW - timedelta(days=1)
    session.flush()


def test_an_invitation_is_queued_and_its_link_lets_the_owner_sign(client, session, world):
    without_commitment(session, world)
    invitation = invite_to_sign(session, police_actor(session), "owner-a", public_base_url=BASE_URL, now=NOW)
    assert invitation.link_expires_at == NOW + timedelta(days=INVITATION_DAYS) and invitation.messages
    for message in invitation.messages:
        assert message.kind == "commitment.invitation" and "ông/bà" in message.body
        assert not re.search(r"\bbạn\b", message.body, re.IGNORECASE)
    raw_token = mint_owner_link(session, invitation.messages[0])
    link = session.scalar(select(OwnerLink).where(OwnerLink.token_hash == token_hash(raw_token)))
    assert (link.purpose, link.commitment_id, link.expires_at) == (
        LinkPurpose.COMMITMENT,
        None,
        invitation.link_expires_at,
    )
    invited = session.scalar(select(AuditEvent).where(AuditEvent.action == "commitment.invite"))
    assert invited.actor_label == police_actor(session).label
    session.commit()

    page = client.get(f"/o/{raw_token}").get_data(as_text=True)
    assert 'id="invitation"' in page and 'id="sign-form"' in page and 'id="revoke"' not in page
    signed = client.post(f"/o/{raw_token}", data={"csrf_token": fresh_csrf(client, raw_token), "action": "sign"})
    assert signed.status_code == 303
    session.expire_all()
    newest = session.scalars(select(SharingCommitment).order_by(SharingCommitment.id.desc())).first()
    assert newest.owner_id == world.objects["a"]["owner"] and newest.revoked_at is None
    event = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "commitment.sign").order_by(AuditEvent.id.desc())
    ).first()
    assert (
        event.details["text_version"] == newest.text_version
        and event.details["text"] == commitment_text("vi").full_text
    )


def test_an_owner_with_a_commitment_in_force_is_not_invited(client, session, world):
    refused = client.post(
        "/api/v1/commitments/invitations", json={"owner_external_id": "owner-a"}, headers=world.headers["police_a"]
    )
    assert refused.status_code == 409 and "owner" in refused.get_json()["errors"]
    assert session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "commitment.invitation")) is None


def test_the_api_invites_within_the_officers_reach_only(client, session, world):
    without_commitment(session, world)
    without_commitment(session, world, "b")
    session.commit()
    other = client.post(
        "/api/v1/commitments/invitations", json={"owner_external_id": "owner-b"}, headers=world.headers["police_a"]
    )
    assert other.status_code == 422 and "owner" in other.get_json()["errors"]
    missing = client.post("/api/v1/commitments/invitations", json={}, headers=world.headers["police_a"])
    assert missing.status_code == 422 and "owner_external_id" in missing.get_json()["errors"]
    invited = client.post(
        "/api/v1/commitments/invitations", json={"owner_external_id": "owner-a"}, headers=world.headers["police_a"]
    )
    assert invited.status_code == 202 and invited.get_json()["owner_external_id"] == "owner-a"
    assert invited.get_json()["channels"]


def test_the_cli_invites_and_refuses_in_one_line(app, session, world):
    without_commitment(session, world)
    session.commit()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["commitments", "invite", "--owner", "owner-a"])
    assert result.exit_code == 0 and result.output.startswith("invited owner owner-a by ")
    unknown = runner.invoke(args=["commitments", "invite", "--owner", "nobody"])
    assert unknown.exit_code != 0 and "owner: no owner nobody in your reach" in unknown.output
    session.expire_all()
    assert session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "commitment.invitation")).all()
