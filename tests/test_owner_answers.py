"""What owners do through their links (services/owner_answers.py), on the test database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from owner_support import NOW, POLICE_PHONE, assignment_link, commitment_link, police_actor, routed_assignment
from sqlalchemy import func, select

from camera_registry.models import (
    AssignmentStatus,
    AuditEvent,
    CommitmentChannel,
    Handover,
    RequestStatus,
    SharingCommitment,
)
from camera_registry.services import owner_answers, requests
from camera_registry.services.access import owner_actor
from camera_registry.services.errors import ValidationFailed
from camera_registry.services.owner_answers import PageState, Refusal
from camera_registry.services.owner_links import revoke_links


def audit_count(session) -> int:
    session.flush()
    return session.scalar(select(func.count(AuditEvent.id)))


def test_an_owner_actor_reaches_nothing_and_is_no_administrator():
    actor = owner_actor(7)
    assert actor.label == "owner:7" and not actor.is_admin
    assert not actor.can_read(1) and not actor.can_write(None) and not actor.sees_contacts(1)


def test_opening_a_live_link_marks_the_assignment_viewed_once(session, world):
    assignment = routed_assignment(session, world)
    token = assignment_link(session, assignment)
    page = owner_answers.open_link(session, token)
    assert page.state == PageState.OPEN and page.actions == owner_answers.ASSIGNMENT_ANSWERS
    assert assignment.status == AssignmentStatus.VIEWED and assignment.request.status == RequestStatus.IN_PROGRESS
    assert page.link.first_viewed_at is not None
    assert page.police.unit_name == "Xã A" and page.police.phone == POLICE_PHONE
    assert [lens.external_id for lens in page.lenses] == ["lens-a"]
    first_viewed, events = page.link.first_viewed_at, audit_count(session)
    owner_answers.open_link(session, token, now=NOW + timedelta(minutes=5))
    assert page.link.first_viewed_at == first_viewed and audit_count(session) == events
    viewed = session.scalar(select(AuditEvent).where(AuditEvent.action == "assignment.view"))
    assert viewed.actor_label == f"owner:{assignment.owner_id}" and viewed.actor_user_id is None


def test_consent_with_police_copy_is_final_and_a_double_submit_changes_nothing(session, world):
    assignment = routed_assignment(session, world)
    token = assignment_link(session, assignment)
    page = owner_answers.answer(session, token, "consent", handover=Handover.POLICE_COPY)
    assert page.refusal is None and page.state == PageState.ANSWERED
    assert assignment.status == AssignmentStatus.CONSENTED and assignment.handover == Handover.POLICE_COPY
    assert page.link.used_at is not None and page.answer == owner_answers.Answer("consent", Handover.POLICE_COPY)
    events = audit_count(session)
    again = owner_answers.answer(session, token, "consent", handover=Handover.POLICE_COPY)
    assert again.refusal is None and again.state == PageState.ANSWERED and again.answer == page.answer
    assert audit_count(session) == events and assignment.version == page.link.assignment.version
    changed = owner_answers.answer(session, token, "decline", note="đổi ý")
    assert changed.refusal == Refusal.ALREADY_ANSWERED and assignment.status == AssignmentStatus.CONSENTED
    assert audit_count(session) == events


def test_consent_to_upload_keeps_the_link_for_the_upload(session, world):
    assignment = routed_assignment(session, world)
    token = assignment_link(session, assignment)
    page = owner_answers.answer(session, token, "consent", handover=Handover.OWNER_UPLOAD)
    assert page.state == PageState.OPEN and page.actions == (owner_answers.UPLOAD,)
    assert page.link.used_at is None and assignment.handover == Handover.OWNER_UPLOAD
    assert owner_answers.answer(session, token, "consent", handover=Handover.OWNER_UPLOAD).refusal is None
    other = owner_answers.answer(session, token, "consent", handover=Handover.POLICE_COPY)
    assert other.refusal == Refusal.ALREADY_ANSWERED


def test_decline_with_a_reason_resolves_the_request(session, world):
    assignment = routed_assignment(session, world)
    token = assignment_link(session, assignment)
    page = owner_answers.answer(session, token, "decline", note="Camera hướng vào nhà riêng")
    assert page.state == PageState.ANSWERED and page.answer.action == "decline"
    assert assignment.status == AssignmentStatus.DECLINED and assignment.answer_note == "Camera hướng vào nhà riêng"
    assert assignment.request.status == RequestStatus.RESOLVED
    answered = session.scalar(select(AuditEvent).where(AuditEvent.action == owner_answers.LINK_ANSWERED))
    assert (answered.entity_id, answered.to_state) == (str(page.link.id), "decline")


@pytest.mark.parametrize(
    "reason, note, recorded",
    [
        ("camera_off", None, "camera_off"),
        ("overwritten", "đầu thu chỉ lưu 3 ngày", "overwritten: đầu thu chỉ lưu 3 ngày"),
        ("other", "mất điện", "other: mất điện"),
    ],
)
def test_no_footage_records_why(session, world, reason, note, recorded):
    assignment = routed_assignment(session, world)
    token = assignment_link(session, assignment)
    page = owner_answers.answer(session, token, "report_no_footage", reason=reason, note=note)
    assert page.state == PageState.ANSWERED and assignment.status == AssignmentStatus.NO_FOOTAGE
    assert assignment.answer_note == recorded and page.link.used_at is not None


def test_incomplete_answers_are_refused_before_anything_changes(session, world):
    assignment = routed_assignment(session, world)
    token = assignment_link(session, assignment)
    before = assignment.status
    with pytest.raises(ValidationFailed) as refused:
        owner_answers.answer(session, token, "report_no_footage", reason="bored")
    assert "reason" in refused.value.errors
    with pytest.raises(ValidationFailed):
        owner_answers.answer(session, token, "consent")
    assert assignment.status == before
    assert owner_answers.answer(session, token, "sign").refusal == Refusal.NOT_OFFERED


def test_dead_links_name_the_police_to_call(session, world):
    assignment = routed_assignment(session, world)
    revoked = assignment_link(session, assignment)
    revoke_links(session, assignment=assignment)
    expired = assignment_link(session, assignment, expires_at=NOW - timedelta(minutes=1))
    used = assignment_link(session, assignment)
    owner_answers.answer(session, used, "consent", handover=Handover.POLICE_COPY)
    for token, state in ((expired, PageState.EXPIRED), (revoked, PageState.REVOKED)):
        page = owner_answers.open_link(session, token)
        assert page.state == state and page.police.phone == POLICE_PHONE, state
        assert owner_answers.answer(session, token, "decline").refusal == Refusal.LINK_DEAD
    assert owner_answers.open_link(session, used).state == PageState.ANSWERED
    unknown = owner_answers.open_link(session, "not-a-token")
    assert unknown.state == PageState.UNKNOWN and unknown.police is None and unknown.link is None


def test_a_cancelled_request_closes_the_owners_page(session, world):
    assignment = routed_assignment(session, world)
    token = assignment_link(session, assignment)
    requests.cancel_request(session, police_actor(session), assignment.request_id, note="đã bắt được")
    page = owner_answers.open_link(session, token)
    assert page.state == PageState.CLOSED and page.police.phone == POLICE_PHONE
    assert owner_answers.answer(session, token, "decline").refusal == Refusal.LINK_DEAD


def test_renewing_through_a_link_signs_a_new_row_with_the_current_text(session, world):
    token, owner_id = commitment_link(session, world)
    page = owner_answers.open_link(session, token)
    assert page.state == PageState.OPEN and page.actions == ("renew", "revoke")
    assert page.commitment_text.version == owner_answers.CURRENT_TEXT_VERSION
    page = owner_answers.answer(session, token, "renew")
    assert page.state == PageState.ANSWERED and page.answer.action == "renew" and page.link.used_at is not None
    rows = session.scalars(
        select(SharingCommitment).where(SharingCommitment.owner_id == owner_id).order_by(SharingCommitment.id)
    ).all()
    assert len(rows) == 2 and rows[0].revoked_at is None
    renewed = rows[1]
    assert renewed.channel == CommitmentChannel.WEB and renewed.text_version == owner_answers.CURRENT_TEXT_VERSION
    assert renewed.all_recorders and renewed.valid_until.year == renewed.signed_at.year + 3
    events = audit_count(session)
    assert owner_answers.answer(session, token, "renew").refusal is None  # the double submit
    assert session.scalar(select(func.count()).where(SharingCommitment.owner_id == owner_id)) == 2
    assert audit_count(session) == events
    assert owner_answers.answer(session, token, "revoke").refusal == Refusal.ALREADY_ANSWERED
    signed = session.scalar(select(AuditEvent).where(AuditEvent.action == "commitment.sign"))
    assert signed.actor_label == f"owner:{owner_id}"


def test_revoking_through_a_link_stamps_the_commitment(session, world):
    token, _ = commitment_link(session, world)
    page = owner_answers.answer(session, token, "revoke", note="chuyển nhà")
    commitment = session.get(SharingCommitment, world.objects["a"]["commitment"])
    assert page.state == PageState.ANSWERED and commitment.revoked_at is not None
    assert owner_answers.answer(session, token, "revoke").refusal is None
    assert owner_answers.open_link(session, token).state == PageState.ANSWERED


def test_an_invitation_to_sign_adds_a_commitment_over_all_recorders(session, world):
    session.get(SharingCommitment, world.objects["a"]["commitment"]).revoked_at = NOW - timedelta(days=1)
    token, owner_id = commitment_link(session, world, commitment=False)
    assert owner_answers.open_link(session, token).actions == ("sign",)
    page = owner_answers.answer(session, token, "sign")
    assert page.state == PageState.ANSWERED
    newest = session.scalars(
        select(SharingCommitment).where(SharingCommitment.owner_id == owner_id).order_by(SharingCommitment.id.desc())
    ).first()
    assert newest.channel == CommitmentChannel.WEB and newest.is_active_at(NOW + timedelta(days=1))


@pytest.mark.parametrize("language, words", [("vi", "Cam kết chia sẻ"), ("en", "Commitment to share")])
def test_the_commitment_text_is_versioned_in_both_languages(language, words):
    text = owner_answers.commitment_text(language)
    assert text.version == owner_answers.CURRENT_TEXT_VERSION and words in text.title
    assert len(text.paragraphs) >= 3 and any("3" in paragraph for paragraph in text.paragraphs)
