"""Consent that can be proven (issue 17): each consent given or withdrawn leaves exactly one consent record, with
the notice in full, its hash, the channel, and for the web the link and the device; silence leaves none; a
withdrawal holds at once for the next request; officers read the records through the API, audited."""

from __future__ import annotations

import hashlib
import html
import io
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from import_support import GOOD_ROW, register
from notify_support import run
from owner_support import NOW, assignment_link, commitment_link, fresh_csrf, police_actor, routed_assignment
from sqlalchemy import func, select

from camera_registry.db import make_session_factory, write_unit
from camera_registry.models import (
    Assignment,
    AssignmentStatus,
    AuditEvent,
    CommitmentChannel,
    ConsentChannel,
    ConsentPurpose,
    ConsentRecord,
    Handover,
    OwnerLink,
    SharingCommitment,
    User,
)
from camera_registry.services import commitments, import_jobs
from camera_registry.services.access import SYSTEM, actor_for
from camera_registry.services.consents import FOOTAGE_NOTICE_VERSION, HANDOVER_LABELS, footage_notice
from camera_registry.services.deadlines import expire_overdue
from camera_registry.services.imports import import_register
from camera_registry.services.upload_limits import UploadLimits
from camera_registry.services.wording import say

DEVICE = {"User-Agent": "Mozilla/5.0 (Linux; Android 14) Zalo", "Accept-Language": "vi-VN,vi;q=0.9"}


def consents(session, owner_id=None) -> list[ConsentRecord]:
    session.expire_all()
    statement = select(ConsentRecord).order_by(ConsentRecord.id)
    if owner_id is not None:
        statement = statement.where(ConsentRecord.owner_id == owner_id)
    return list(session.scalars(statement))


def visible_text(response) -> str:
    """The page as read: tags dropped, entities decoded, runs of white space as one space."""
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", response.get_data(as_text=True), flags=re.S)
    words = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())
    return words.replace(" ,", ",")  # a closing tag before a comma


def answer(client, token, action, **fields):
    data = {"csrf_token": fresh_csrf(client, token), "action": action, **fields}
    return client.post(f"/o/{token}", data=data, headers=DEVICE)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def assert_web_device(consent: ConsentRecord, link_id: int) -> None:
    assert consent.channel == ConsentChannel.WEB_LINK and consent.owner_link_id == link_id
    assert consent.user_agent == DEVICE["User-Agent"] and consent.accept_language == DEVICE["Accept-Language"]
    assert consent.client_address == "127.0.0.1" and consent.recorded_by_user_id is None


# --------------------------------------------------------------------------- footage handover on the owner's page


@pytest.mark.parametrize("handover", ["police_copy", "owner_upload"])
def test_agreeing_on_the_page_keeps_the_notice_the_page_showed(client, session, owner_link, handover):
    assignment, token = owner_link
    shown = visible_text(client.get(f"/o/{token}"))
    assert answer(client, token, "consent", handover=handover).status_code == 303
    assert answer(client, token, "consent", handover=handover).status_code in (303, 410)  # a double tap: no second
    [consent] = consents(session)
    assert consent.purpose == ConsentPurpose.FOOTAGE_HANDOVER_AGREED and consent.owner_id == assignment.owner_id
    assert consent.assignment_id == assignment.id and consent.commitment_id is None
    assert_web_device(consent, session.scalar(select(OwnerLink.id).where(OwnerLink.assignment_id == assignment.id)))
    assert consent.notice_version == FOOTAGE_NOTICE_VERSION and consent.language == "vi"
    assert consent.notice_sha256 == sha256(consent.notice_text)
    assert abs(consent.given_at - datetime.now(UTC)) < timedelta(minutes=1)
    lines = consent.notice_text.split("\n")
    for line in lines[:-1]:  # every fact, in the page's words and values
        assert all(part in shown for part in line.split(": ", 1)), line
    assert "VV-2026-042" in consent.notice_text and "Điều 145 BLTTHS" in consent.notice_text
    assert "Xã A" in consent.notice_text and "lens-a" in consent.notice_text
    agreed, choice = lines[-1].split(": ")  # what "agree" means: the form's heading and the choice ticked
    assert agreed in shown and choice in shown
    assert choice == say("vi", HANDOVER_LABELS[Handover(handover)])


def test_an_owner_reading_english_agrees_to_the_english_notice(client, session, owner_link):
    assignment, token = owner_link
    assignment.owner.language = "en"
    session.commit()
    shown = visible_text(client.get(f"/o/{token}"))
    assert answer(client, token, "consent", handover="police_copy").status_code == 303
    [consent] = consents(session)
    assert consent.language == "en" and consent.notice_text.startswith("Footage request from the police\n")
    assert consent.notice_text.endswith("I agree to hand over a copy: An officer comes to copy it")
    assert all(part in shown for line in consent.notice_text.split("\n") for part in line.split(": ", 1))


@pytest.mark.parametrize(("action", "fields"), [("decline", {}), ("report_no_footage", {"reason": "camera_off"})])
def test_declining_or_having_no_footage_is_no_consent(client, session, owner_link, action, fields):
    _, token = owner_link
    assert answer(client, token, action, **fields).status_code == 303
    assert consents(session) == []


# --------------------------------------------------------------------------- commitments through the owner's link


def test_signing_renewing_and_withdrawing_on_the_web_each_keep_one_record_with_the_signed_text(client, session, world):
    owner_id = world.objects["a"]["owner"]
    session.get(SharingCommitment, world.objects["a"]["commitment"]).revoked_at = NOW - timedelta(days=1)
    sign_token, _ = commitment_link(session, world, commitment=False)
    session.commit()
    assert answer(client, sign_token, "sign").status_code == 303
    [signed] = consents(session, owner_id)
    commitment = session.get(SharingCommitment, signed.commitment_id)
    assert signed.purpose == ConsentPurpose.COMMITMENT_SIGNED and commitment.channel.value == "web"
    assert signed.commitment_text_id == commitment.text_id is not None
    assert signed.notice_text == commitment.text.body and signed.notice_sha256 == sha256(commitment.text.body)
    assert signed.notice_version == commitment.text_version and signed.language == commitment.text.language
    assert signed.given_at == commitment.signed_at
    assert_web_device(signed, signed.owner_link_id)

    renew_token, _ = commitment_link(session, world)
    session.commit()
    assert answer(client, renew_token, "renew").status_code == 303
    renewed = consents(session, owner_id)[1:]
    assert [record.purpose for record in renewed] == [ConsentPurpose.COMMITMENT_RENEWED]
    assert renewed[0].commitment_id != commitment.id and renewed[0].notice_sha256 == signed.notice_sha256

    revoke_token, _ = commitment_link(session, world)
    session.commit()
    assert answer(client, revoke_token, "revoke", confirm="yes").status_code == 303
    withdrawn = consents(session, owner_id)[2:]
    # the renewal left the row it renewed in force: the withdrawal ends both, a record for each
    assert {record.purpose for record in withdrawn} == {ConsentPurpose.COMMITMENT_WITHDRAWN}
    assert {record.commitment_id for record in withdrawn} == {commitment.id, renewed[0].commitment_id}
    for record in withdrawn:
        assert_web_device(record, record.owner_link_id)
        assert record.given_at == session.get(SharingCommitment, record.commitment_id).revoked_at


def test_a_withdrawal_on_the_web_holds_at_once_for_the_next_request(client, session, world):
    owner_id = world.objects["a"]["owner"]
    before = routed_assignment(session, world)
    assert before.covered_by_commitment
    token, _ = commitment_link(session, world)
    session.commit()
    assert answer(client, token, "revoke", confirm="yes").status_code == 303
    [withdrawn] = consents(session, owner_id)
    assert withdrawn.purpose == ConsentPurpose.COMMITMENT_WITHDRAWN and withdrawn.notice_version == "2024.1"
    assert withdrawn.notice_text is None  # a paper commitment whose text the registry never held
    after = routed_assignment(session, world)
    assert after.owner_id == owner_id and not after.covered_by_commitment


# --------------------------------------------------------------------------- officers, on paper or on site


def test_an_officer_records_paper_and_on_site_consents_through_the_api(client, session, world):
    owner_id = world.objects["a"]["owner"]
    police_id = session.scalar(select(User.id).where(User.username == "police-a"))
    headers = world.headers["police_a"]
    signed = client.post(
        "/api/v1/commitments",
        json={"owner_id": owner_id, "valid_until": None, "channel": "paper", "text_version": "2025.1"},
        headers=headers,
    )
    assert signed.status_code == 201, signed.get_json()
    renewed = client.post(
        f"/api/v1/commitments/{signed.get_json()['id']}/renew",
        json={"valid_until": None, "channel": "paper", "consent_channel": "on_site"},
        headers=headers,
    )
    assert renewed.status_code == 201, renewed.get_json()
    revoked = client.post(
        f"/api/v1/commitments/{renewed.get_json()['id']}/revoke",
        json={"reason": "chủ nhà báo tại chỗ", "consent_channel": "on_site"},
        headers=headers,
    )
    assert revoked.status_code == 200, revoked.get_json()
    records = consents(session, owner_id)
    assert [(r.purpose, r.channel) for r in records] == [
        (ConsentPurpose.COMMITMENT_SIGNED, ConsentChannel.PAPER),
        (ConsentPurpose.COMMITMENT_RENEWED, ConsentChannel.ON_SITE),
        (ConsentPurpose.COMMITMENT_WITHDRAWN, ConsentChannel.ON_SITE),
    ]
    assert [r.commitment_id for r in records] == [signed.get_json()["id"], *[renewed.get_json()["id"]] * 2]
    for record in records:
        assert record.recorded_by_user_id == police_id and record.notice_version == "2025.1"
        assert record.owner_link_id is None and record.user_agent is None and record.client_address is None


def test_an_officer_cannot_record_a_web_consent(client, world):
    response = client.post(
        "/api/v1/commitments",
        json={
            "owner_id": world.objects["a"]["owner"],
            "valid_until": None,
            "channel": "paper",
            "text_version": "2025.1",
            "consent_channel": "web_link",
        },
        headers=world.headers["police_a"],
    )
    assert response.status_code == 422 and "consent_channel" in response.get_json()["errors"]


def test_the_services_write_the_record_in_the_signatures_unit(session, world):
    owner_id = world.objects["a"]["owner"]
    commitment = commitments.sign_commitment(
        session,
        police_actor(session),
        owner_id=owner_id,
        valid_until=None,
        channel=CommitmentChannel.PAPER,
        text_version="2025.1",
    )
    [record] = consents(session, owner_id)
    assert record.commitment_id == commitment.id and record.channel == ConsentChannel.PAPER
    session.rollback()
    assert consents(session, owner_id) == []


@pytest.mark.parametrize(("given", "channel"), [(None, ConsentChannel.PHONE), ("on_site", ConsentChannel.ON_SITE)])
def test_an_officer_records_a_footage_consent_taken_by_phone_or_on_site(client, session, world, given, channel):
    assignment = routed_assignment(session, world)
    session.commit()
    police_id = session.scalar(select(User.id).where(User.username == "police-a"))
    body = {"handover": "police_copy", **({"consent_channel": given} if given else {})}
    response = client.post(f"/api/v1/assignments/{assignment.id}/consent", json=body, headers=world.headers["police_a"])
    assert response.status_code == 200, response.get_json()
    [consent] = consents(session)
    assert (consent.purpose, consent.channel) == (ConsentPurpose.FOOTAGE_HANDOVER_AGREED, channel)
    assert consent.assignment_id == assignment.id and consent.recorded_by_user_id == police_id
    assert consent.owner_link_id is None and consent.user_agent is None and consent.client_address is None
    assert consent.notice_text == footage_notice(session.get(Assignment, assignment.id), Handover.POLICE_COPY, "vi")
    assert consent.given_at == session.get(Assignment, assignment.id).answered_at


def test_an_officer_cannot_record_a_footage_consent_as_given_on_the_web(client, session, world):
    assignment = routed_assignment(session, world)
    session.commit()
    response = client.post(
        f"/api/v1/assignments/{assignment.id}/consent",
        json={"handover": "police_copy", "consent_channel": "web_link"},
        headers=world.headers["police_a"],
    )
    assert response.status_code == 422 and "consent_channel" in response.get_json()["errors"]
    assert consents(session) == [] and session.get(Assignment, assignment.id).status != AssignmentStatus.CONSENTED


# --------------------------------------------------------------------------- silence


@pytest.fixture()
def settings(notification_settings):
    return replace(notification_settings, reminder_hours=24, max_reminders=2, escalation_hours=24)


def test_an_assignment_left_unanswered_expires_with_no_consent(session, world, settings):
    assignment = routed_assignment(session, world)
    assignment_link(session, assignment)
    assert run(expire_overdue, session, settings, assignment.preservation_deadline) == {"assignments_expired": 1}
    assert assignment.status == AssignmentStatus.EXPIRED and assignment.handover is None
    assert consents(session) == []


def test_a_commitment_link_never_used_signs_nothing(client, session, world):
    owner_id = world.objects["a"]["owner"]
    session.get(SharingCommitment, world.objects["a"]["commitment"]).revoked_at = NOW - timedelta(days=1)
    token, _ = commitment_link(session, world, commitment=False)
    session.commit()
    assert client.get(f"/o/{token}").status_code == 200  # opened and left
    assert consents(session, owner_id) == []
    in_force = commitments.shared_recorder_ids(session, [world.objects["a"]["recorder"]], datetime.now(UTC))
    assert in_force == set()
    assert not routed_assignment(session, world).covered_by_commitment


# --------------------------------------------------------------------------- reading them


def test_the_consents_api(client, session, world):
    assignment = routed_assignment(session, world)
    token = assignment_link(session, assignment)
    session.commit()
    assert answer(client, token, "consent", handover="police_copy").status_code == 303
    url = f"/api/v1/owners/{assignment.owner_id}/consents"
    reads = select(func.count(AuditEvent.id)).where(AuditEvent.action == "owner.contacts_read")
    before = session.scalar(reads)

    for role in ("police_a", "admin"):
        response = client.get(url, headers=world.headers[role])
        assert response.status_code == 200, response.get_json()
        [listed] = response.get_json()
        assert listed["purpose"] == "footage_handover_agreed" and listed["channel"] == "web_link"
        assert listed["assignment_id"] == assignment.id and listed["notice_version"] == FOOTAGE_NOTICE_VERSION
        assert listed["notice_sha256"] == sha256(listed["notice_text"]) and "VV-2026-042" in listed["notice_text"]
        assert listed["user_agent"] == DEVICE["User-Agent"] and listed["client_address"] == "127.0.0.1"
        assert listed["accept_language"] == DEVICE["Accept-Language"] and listed["owner_link_id"] is not None
    session.expire_all()
    assert session.scalar(reads) == before + 2
    audited = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "owner.contacts_read").order_by(AuditEvent.id.desc())
    ).first()
    assert audited.details == {"owner_ids": [assignment.owner_id], "seen_on": "consents_api"}

    assert client.get(url, headers=world.headers["police_b"]).status_code == 404  # another commune: not even there
    assert client.get(url, headers=world.headers["district_staff"]).status_code == 403  # reads the owner, not this
    assert client.get(url, headers=world.headers["anonymous"]).status_code == 401
    assert client.get("/api/v1/owners/999999/consents", headers=world.headers["admin"]).status_code == 404
    session.expire_all()
    assert session.scalar(reads) == before + 2  # refusals disclose nothing


# --------------------------------------------------------------------------- paper commitments from a register


@pytest.fixture()
def factory(db_connection):
    """Sessions on the test's connection, as the app's: read and write units, committing savepoints."""
    sessions = make_session_factory(db_connection.engine)
    sessions.configure(bind=db_connection, join_transaction_mode="create_savepoint")
    return sessions


def test_an_imported_paper_commitment_keeps_a_consent_from_its_import_job(session, world, factory, tmp_path):
    settings = import_jobs.ImportJobSettings(
        upload_dir=tmp_path / "imports", max_bytes=1024 * 1024, limits=UploadLimits()
    )
    admin = session.scalar(select(User).where(User.username == "admin"))
    signed = GOOD_ROW.format(n=1)[: -len(",,")] + ",2025-03-15,2028-03-14"
    job_id = import_jobs.queue_import(
        lambda work: write_unit(factory, work),
        actor_for(session, admin),
        io.BytesIO(register(signed)),
        "register.csv",
        dry_run=False,
        settings=settings,
    )
    assert import_jobs.run_imports(factory, settings) == {"imported": 1}
    [consent] = consents(session)
    commitment = session.get(SharingCommitment, consent.commitment_id)
    assert commitment.owner.external_id == "owner-new" and consent.owner_id == commitment.owner_id
    assert (consent.purpose, consent.channel) == (ConsentPurpose.COMMITMENT_SIGNED, ConsentChannel.PAPER)
    assert consent.import_job_id == job_id and consent.recorded_by_user_id == admin.id
    assert consent.given_at == commitment.signed_at and consent.notice_version == "import"
    assert consent.owner_link_id is None and consent.user_agent is None

    # Imported again: the same commitment, no new consent; another signing day is a renewal.
    assert import_register(session, io.BytesIO(register(signed)), "again.csv", actor=SYSTEM).ok
    assert len(consents(session)) == 1
    renewed = GOOD_ROW.format(n=1)[: -len(",,")] + ",2026-10-01,2029-09-30"
    assert import_register(session, io.BytesIO(register(renewed)), "renewed.csv", actor=SYSTEM).ok
    [_, again] = consents(session)
    assert again.purpose == ConsentPurpose.COMMITMENT_RENEWED and again.import_job_id is None
    assert again.recorded_by_user_id is None and again.commitment_id != commitment.id
