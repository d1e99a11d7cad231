"""The scheduled jobs, each a plain service run on a clock the test sets, and the single-runner lease."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from geoalchemy2.shape import from_shape
from notify_support import IN_VIEW, audited, routed_request, run, sessions_on
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from camera_registry.jobs import JOBS, JobRunner, build_scheduler
from camera_registry.jobs.scheduler import LEASE_TTL
from camera_registry.models import (
    Assignment,
    AssignmentStatus,
    AuditEvent,
    Channel,
    CommitmentChannel,
    FootageRequest,
    LinkPurpose,
    OutboxMessage,
    OwnerLink,
    RequestStatus,
    SharingCommitment,
)
from camera_registry.models.base import utcnow
from camera_registry.services import deadlines
from camera_registry.services.access import SYSTEM
from camera_registry.services.deadlines import (
    escalate_near_deadline,
    expire_overdue,
    invite_renewals,
    remind_unanswered,
)
from camera_registry.services.delivery import deliver_due
from camera_registry.services.leases import hold_lease, release_lease
from camera_registry.services.notifications import TOKEN_SLOT
from camera_registry.services.workflow import transition_assignment

NOW = datetime.now(UTC)
HOUR = timedelta(hours=1)
POLICE_PHONE = "02439998888"


def outbox(session: Session, kind: str) -> list[OutboxMessage]:
    return list(session.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)))


@pytest.fixture()
def settings(notification_settings):
    return replace(notification_settings, reminder_hours=24, max_reminders=2, escalation_hours=24)


# --------------------------------------------------------------------------- reminders


def test_reminders_keep_the_cadence_and_stop_at_the_maximum(world, session, settings):
    [assignment] = routed_request(session, now=NOW).assignments
    assert run(remind_unanswered, session, settings, NOW + 23 * HOUR) == {}
    assert run(remind_unanswered, session, settings, NOW + 24 * HOUR) == {"reminded": 1}
    assert run(remind_unanswered, session, settings, NOW + 24 * HOUR) == {}  # the job ran twice: one reminder
    assert run(remind_unanswered, session, settings, NOW + 47 * HOUR) == {}
    transition_assignment(session, SYSTEM, assignment, "view")  # the owner opened the link but did not answer
    assert run(remind_unanswered, session, settings, NOW + 48 * HOUR) == {"reminded": 1}
    assert run(remind_unanswered, session, settings, NOW + 96 * HOUR) == {}  # MAX_REMINDERS reached
    reminders = outbox(session, "assignment.reminder")
    assert [message.idempotency_key for message in reminders] == [
        f"assignment:{assignment.id}:reminder:{number}:{channel}"
        for number in (1, 2)
        for channel in ("webhook", "email")
    ]
    assert reminders[0].body.startswith("Nhắc lại lần 1: ") and reminders[3].subject.startswith("Nhắc lại lần 2: ")
    assert assignment.last_reminded_at == NOW + 48 * HOUR and audited(session, "assignment.remind") == 2
    # Each message gets a fresh link when it is sent (only hashes are stored); the earlier ones stay valid.
    links = lambda: session.scalars(select(OwnerLink).where(OwnerLink.assignment_id == assignment.id)).all()  # noqa: E731
    assert links() == [] and {message.payload["link"] for message in reminders} == {
        f"{settings.public_base_url}/o/{TOKEN_SLOT}"
    }
    assert deliver_due(sessions_on(session), settings) == {"sent": 6}
    session.expire_all()
    assert len(links()) == 6 and all(link.revoked_at is None for link in links())


def test_an_answered_assignment_is_not_reminded(world, session, settings):
    [assignment] = routed_request(session, now=NOW).assignments
    transition_assignment(session, SYSTEM, assignment, "report_no_footage")
    assert run(remind_unanswered, session, settings, NOW + 25 * HOUR) == {}


# --------------------------------------------------------------------------- escalation


def test_the_commune_police_are_warned_once_before_the_overwrite_deadline(world, session, settings):
    [assignment] = routed_request(session, now=NOW).assignments
    deadline = assignment.preservation_deadline
    assert run(escalate_near_deadline, session, settings, deadline - 25 * HOUR) == {}
    # A commune with no duty phone cannot be warned; the assignment waits for one.
    assert run(escalate_near_deadline, session, settings, deadline - 23 * HOUR) == {"no_police_phone": 1}
    assert assignment.escalated_at is None
    world.commune_a.police_phone = POLICE_PHONE
    assert run(escalate_near_deadline, session, settings, deadline - 22 * HOUR) == {"escalated": 1}
    assert run(escalate_near_deadline, session, settings, deadline - 21 * HOUR) == {}
    [warning] = outbox(session, "assignment.escalation")
    assert (warning.channel, warning.recipient, warning.idempotency_key) == (
        Channel.WEBHOOK,
        POLICE_PHONE,
        f"assignment:{assignment.id}:escalation:webhook",
    )
    assert f"{settings.public_base_url}/requests/{assignment.request_id}" in warning.body
    assert "Owner a" in warning.body and "0912345678" not in warning.body  # no owner contact data in an SMS
    assert assignment.escalated_at == deadline - 22 * HOUR and audited(session, "assignment.escalate") == 1


# --------------------------------------------------------------------------- expiry


def test_an_unanswered_assignment_expires_and_its_request_resolves(world, session, settings):
    request = routed_request(session, now=NOW)
    [assignment] = request.assignments
    deadline = assignment.preservation_deadline
    assert run(expire_overdue, session, settings, deadline - timedelta(seconds=1)) == {}
    assert run(expire_overdue, session, settings, deadline) == {"assignments_expired": 1}
    assert run(expire_overdue, session, settings, deadline + HOUR) == {}
    assert assignment.status == AssignmentStatus.EXPIRED and request.status == RequestStatus.RESOLVED
    resolved = session.scalar(select(AuditEvent).where(AuditEvent.action == "request.resolve"))
    assert resolved.details == {"footage_received": 0, "declined": 0, "no_footage": 0, "expired": 1}


def test_a_request_past_its_deadline_expires_while_a_consent_is_still_open(world, session, settings):
    request = routed_request(session, now=NOW, deadline=NOW + 48 * HOUR)
    [assignment] = request.assignments
    assert assignment.preservation_deadline == NOW + 48 * HOUR  # capped by the request's deadline
    transition_assignment(session, SYSTEM, assignment, "consent")
    assert run(expire_overdue, session, settings, NOW + 48 * HOUR) == {"requests_expired": 1}
    assert request.status == RequestStatus.EXPIRED and assignment.status == AssignmentStatus.CONSENTED
    assert run(expire_overdue, session, settings, NOW + 49 * HOUR) == {}


def test_a_request_past_its_deadline_with_every_answer_in_resolves(world, session, settings):
    request = FootageRequest(
        commune=world.commune_a,
        case_ref="T",
        reason="t",
        legal_basis="t",
        incident=from_shape(IN_VIEW["a"], srid=4326),
        window_start=NOW - 3 * HOUR,
        window_end=NOW - 2 * HOUR,
        radius_m=100,
        deadline=NOW - HOUR,
        status=RequestStatus.ROUTED,
        lenses_skipped={},
    )
    request.assignments.append(
        Assignment(
            owner_id=world.objects["a"]["owner"],
            rank=1,
            status=AssignmentStatus.DECLINED,
            preservation_deadline=NOW - HOUR,
            distance_m=5,
            covered_by_commitment=True,
        )
    )
    session.add(request)
    session.flush()
    assert run(expire_overdue, session, settings, NOW) == {"requests_resolved": 1}
    assert request.status == RequestStatus.RESOLVED


# --------------------------------------------------------------------------- renewal invitations


def commitment_of(session: Session, world, commune: str) -> SharingCommitment:
    return session.get(SharingCommitment, world.objects[commune]["commitment"])


def test_owners_are_invited_to_renew_30_days_before_valid_until_once(world, session, settings):
    running_out, later = commitment_of(session, world, "a"), commitment_of(session, world, "b")
    running_out.valid_until, later.valid_until = NOW + timedelta(days=20), NOW + timedelta(days=40)
    assert run(invite_renewals, session, settings, NOW) == {"invited": 1}
    assert run(invite_renewals, session, settings, NOW + HOUR) == {}
    assert running_out.renewal_invited_at == NOW and later.renewal_invited_at is None
    webhook, email = outbox(session, "commitment.renewal")
    assert [webhook.idempotency_key, email.idempotency_key] == [
        f"commitment:{running_out.id}:renewal:webhook",
        f"commitment:{running_out.id}:renewal:email",
    ]
    assert "hết hiệu lực sau ngày" in webhook.body and webhook.payload["link"] in email.body
    assert deliver_due(sessions_on(session), settings) == {"sent": 2}  # each is sent with a link of its own
    session.expire_all()
    links = session.scalars(select(OwnerLink).where(OwnerLink.commitment_id == running_out.id)).all()
    assert [(link.purpose, link.owner_id, link.expires_at) for link in links] == 2 * [
        (LinkPurpose.COMMITMENT, running_out.owner_id, running_out.valid_until)
    ]
    assert run(invite_renewals, session, settings, NOW + timedelta(days=10, seconds=1)) == {"invited": 1}
    assert later.renewal_invited_at is not None


def test_a_commitment_already_renewed_gets_no_invitation(world, session, settings):
    old = commitment_of(session, world, "a")
    old.valid_until = NOW + timedelta(days=20)
    session.add(
        SharingCommitment(
            owner_id=old.owner_id,
            all_recorders=True,
            signed_at=NOW - HOUR,
            valid_until=NOW + timedelta(days=1000),
            channel=CommitmentChannel.WEB,
            text_version="2025.1",
        )
    )
    session.flush()
    assert run(invite_renewals, session, settings, NOW) == {}


# --------------------------------------------------------------------------- one runner at a time


def test_the_lease_admits_one_holder_and_passes_on_when_it_expires(session):
    ttl, second = timedelta(seconds=60), timedelta(seconds=1)
    assert hold_lease(session, "jobs", "one", ttl, NOW)
    assert not hold_lease(session, "jobs", "two", ttl, NOW + 10 * second)
    assert hold_lease(session, "jobs", "one", ttl, NOW + 30 * second)  # renewed until +90 s
    assert not hold_lease(session, "jobs", "two", ttl, NOW + 80 * second)
    assert hold_lease(session, "jobs", "two", ttl, NOW + 91 * second)  # "one" died: taken over
    assert not hold_lease(session, "jobs", "one", ttl, NOW + 92 * second)
    release_lease(session, "jobs", "two", NOW + 100 * second)  # a clean shutdown hands over at once
    assert hold_lease(session, "jobs", "one", ttl, NOW + 101 * second)


@pytest.fixture()
def session_factory(db_connection):
    return sessionmaker(bind=db_connection, join_transaction_mode="create_savepoint", expire_on_commit=False)


def test_of_two_schedulers_only_the_lease_holder_runs_jobs(world, session, session_factory, settings):
    [assignment] = routed_request(session, now=NOW).assignments
    session.commit()
    first, second = JobRunner(session_factory, settings, "first"), JobRunner(session_factory, settings, "second")
    deadline = assignment.preservation_deadline
    assert first.run("expire_overdue", deadline) == {"assignments_expired": 1}
    assert second.run("expire_overdue", deadline) is None
    assert second.run("deliver_outbox", deadline + LEASE_TTL / 2) is None
    assert first.run("expire_overdue", deadline + LEASE_TTL / 2) == {}  # renews its lease
    assert second.run("expire_overdue", deadline + LEASE_TTL) is None
    taken_over = deadline + LEASE_TTL / 2 + LEASE_TTL + timedelta(seconds=1)
    assert second.run("deliver_outbox", taken_over) == {"sent": 2}
    assert first.run("expire_overdue", taken_over) is None


def test_a_released_lease_is_not_renewed_by_a_job_still_running(world, session_factory, settings):
    """Shutdown gives the lease up while a job or the heartbeat may still run in the pool: neither may take it
    back, or the next scheduler waits out the whole lease (seen: /readyz stayed ready after a SIGTERM)."""
    first, second = JobRunner(session_factory, settings, "first"), JobRunner(session_factory, settings, "second")
    assert first.holds_lease()
    first.release()  # hands the lease over as of now
    first.heartbeat()
    later = utcnow() + timedelta(seconds=1)
    assert first.run("expire_overdue", later) is None
    assert second.holds_lease(later)


def test_the_scheduler_runs_every_job_through_the_runner(world, session_factory, settings):
    runner = JobRunner(session_factory, settings, "only")
    scheduler = build_scheduler(runner, BackgroundScheduler)
    assert {job.id for job in scheduler.get_jobs()} == {*JOBS, "lease_heartbeat"}
    # The world's communes are counted, their boundaries drawn and their coverage computed, once; then no job
    # has anything to do.
    first = runner.run("refresh_commune_figures", NOW)
    assert first["communes_recounted"] > 0 and first["boundaries_drawn"] > 0
    assert runner.run("refresh_commune_coverage", NOW)["coverage_stored"] > 0
    assert all(runner.run(name, NOW) == {} for name in JOBS)


def test_a_reminder_leaves_the_assignment_version_alone(world, session, settings):
    """Regression: stamping last_reminded_at bumped the version, so an officer's next action got 'stale version'."""
    [assignment] = routed_request(session, now=NOW).assignments
    version = assignment.version
    assert run(remind_unanswered, session, settings, NOW + 24 * HOUR) == {"reminded": 1}
    session.expire_all()
    refreshed = session.get(Assignment, assignment.id)
    assert refreshed.last_reminded_at == NOW + 24 * HOUR and refreshed.version == version


def test_repeated_runs_send_no_second_reminder_or_escalation(
    world, session, session_factory, settings, webhook_receiver, smtp_receiver
):
    """A run repeated (a takeover, a retry after a failure, two ticks at once) finds its work stamped and skips it."""
    [assignment] = routed_request(session, now=NOW).assignments
    world.commune_a.police_phone = POLICE_PHONE
    session.commit()
    runner = JobRunner(session_factory, settings, "only")
    at = assignment.preservation_deadline - 22 * HOUR  # a reminder and the police warning are both due
    for moment in (at, at, at + timedelta(minutes=5)):
        runner.run("remind_owners", moment)
        runner.run("escalate_to_police", moment)
    assert [len(outbox(session, kind)) for kind in ("assignment.reminder", "assignment.escalation")] == [2, 1]
    assert audited(session, "assignment.remind") == 1 and audited(session, "assignment.escalate") == 1
    runner.run("deliver_outbox", at)
    runner.run("deliver_outbox", at + HOUR)
    delivered = webhook_receiver.idempotency_keys() + smtp_receiver.idempotency_keys()
    assert len(delivered) == 5 and set(delivered.values()) == {1}  # request and reminder on two channels, one warning


def test_a_job_works_in_batches_past_what_it_leaves_alone(world, session, settings, monkeypatch):
    """Each batch is its own write unit; an assignment that cannot be escalated does not stall the ones after it."""
    monkeypatch.setattr(deadlines, "BATCH_SIZE", 1)
    [unwarnable] = routed_request(session, "a", now=NOW).assignments
    [warnable] = routed_request(session, "b", now=NOW).assignments
    world.commune_b.police_phone = POLICE_PHONE
    assert unwarnable.id < warnable.id
    at = unwarnable.preservation_deadline - 22 * HOUR
    assert run(escalate_near_deadline, session, settings, at) == {"no_police_phone": 1, "escalated": 1}
    assert run(escalate_near_deadline, session, settings, at) == {"no_police_phone": 1}
