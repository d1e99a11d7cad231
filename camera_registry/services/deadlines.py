"""What the clock sets off: reminders, escalation, expiry, renewal invitations and ZNS fallbacks without a receipt.

Each function is one scheduled job: it takes the session factory, the
settings and the moment it runs for, and returns counts. It writes only the
database (its messages go to the outbox in the same transaction), in batches
of BATCH_SIZE items, each batch its own short write unit, so a job with much
to do never holds SQLite's write lock for long; a batch that fails takes
nothing of the batches before it with it.
Each is idempotent: what it did is stamped on the record (last_reminded_at
and reminder_count, escalated_at, renewal_invited_at, a final state) in the
same write unit, and the next run skips it. An item that changed under the
job (the owner answered that very second) is left for the next run instead of
failing the whole batch.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy import Select, and_, exists, or_, select, update
from sqlalchemy.orm import Session, aliased, sessionmaker
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from ..db import write_unit
from ..models import (
    AWAITING_ANSWER,
    LIVE_REQUEST_STATES,
    REQUEST_TRANSITIONS,
    UNANSWERED,
    Assignment,
    Channel,
    FootageRequest,
    MessageStatus,
    OutboxMessage,
    Owner,
    SharingCommitment,
)
from .access import SYSTEM
from .audit import record
from .errors import Conflict
from .notifications import (
    NotificationSettings,
    escalate_to_police,
    fail_message,
    invite_renewal,
    owner_channels,
    owner_link_slot,
    remind_assignment,
)
from .workflow import all_final, outcome, transition_assignment, transition_request

RENEWAL_NOTICE = timedelta(days=30)
#: Items one write unit handles.
BATCH_SIZE = 50


def _in_batches(sessions: sessionmaker, entity, due: Select, work: Callable[[Session, Sequence], Counter]) -> Counter:
    """Run `work` on what `due` selects, BATCH_SIZE items at a time in id order, each batch its own write unit.

    Each batch selects again, past the last id seen, so an item left as it was
    (no phone, a conflict) is not taken twice in one run and cannot stall it.
    """
    batch_size = BATCH_SIZE

    def batch(after: int, session: Session) -> tuple[Counter, int | None, int]:
        items = session.scalars(due.where(entity.id > after).order_by(entity.id).limit(batch_size)).all()
        return (work(session, items) if items else Counter()), (items[-1].id if items else None), len(items)

    counts: Counter = Counter()
    after = 0
    while True:
        done, last, taken = write_unit(sessions, partial(batch, after))
        counts += done
        if taken < batch_size:
            return counts
        after = last


def _each_in_savepoint(session: Session, items, step) -> Counter:
    """Apply `step` to each item in its own savepoint; a conflict skips the item, not the batch."""
    counts: Counter = Counter()
    for item in items:
        try:
            with session.begin_nested():
                outcome_name = step(item)
                session.flush()
        except (Conflict, StaleDataError):
            outcome_name = "conflicts"
        counts[outcome_name] += 1
    return counts


def _stamp(session: Session, assignment: Assignment, **values) -> None:
    """Job bookkeeping, not a state change: written past the version counter, so an officer's open page stays valid."""
    session.execute(
        update(Assignment)
        .where(Assignment.id == assignment.id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    for name, value in values.items():
        set_committed_value(assignment, name, value)


def _reachable(owner: Owner, settings: NotificationSettings) -> bool:
    """Whether a non-urgent message (a reminder, a renewal invitation) may go to `owner`, and has a channel."""
    return not owner.non_urgent_opt_out and bool(owner_channels(owner, settings.channel_plan))


def remind_unanswered(sessions: sessionmaker, settings: NotificationSettings, now: datetime) -> Counter:
    """Remind owners who were asked but have not answered, once per REMINDER_HOURS, at most MAX_REMINDERS times.

    The cadence counts from the last reminder, or from routing (when the first
    message went out). Each reminder carries a fresh link, minted when it is
    sent: only link hashes are stored, so the first link cannot be sent again
    (it stays valid).
    """
    due_before = now - settings.reminder_interval
    candidates = (
        select(Assignment)
        .join(FootageRequest)
        .where(
            Assignment.status.in_(AWAITING_ANSWER),
            Assignment.reminder_count < settings.max_reminders,
            Assignment.preservation_deadline > now,
            or_(
                Assignment.last_reminded_at <= due_before,
                and_(Assignment.last_reminded_at.is_(None), FootageRequest.routed_at <= due_before),
            ),
        )
    )

    def remind_batch(session: Session, assignments: Sequence[Assignment]) -> Counter:
        def remind(assignment: Assignment) -> str:
            number = assignment.reminder_count + 1
            messages = remind_assignment(
                session, assignment, owner_link_slot(settings.public_base_url), number, settings.channel_plan, now
            )
            _stamp(session, assignment, last_reminded_at=now, reminder_count=number)
            record(
                session,
                SYSTEM,
                "assignment.remind",
                "assignment",
                assignment.id,
                to_state=assignment.status.value,
                details={"reminder": number, "channels": sorted(message.channel.value for message in messages)},
            )
            return "reminded"

        reachable = [assignment for assignment in assignments if _reachable(assignment.owner, settings)]
        return _each_in_savepoint(session, reachable, remind)

    return _in_batches(sessions, Assignment, candidates, remind_batch)


def escalate_near_deadline(sessions: sessionmaker, settings: NotificationSettings, now: datetime) -> Counter:
    """Warn the commune police, once, when an unanswered assignment is ESCALATION_HOURS from its overwrite deadline.

    A commune without a duty phone cannot be warned; its assignments stay
    unescalated (and counted) so a phone added later still gets the warning.
    """
    candidates = select(Assignment).where(
        Assignment.status.in_(UNANSWERED),
        Assignment.escalated_at.is_(None),
        Assignment.preservation_deadline > now,
        Assignment.preservation_deadline <= now + settings.escalation_window,
    )

    def escalate_batch(session: Session, assignments: Sequence[Assignment]) -> Counter:
        def escalate(assignment: Assignment) -> str:
            messages = escalate_to_police(session, assignment, settings.public_base_url, settings.channel_plan)
            if not messages:
                return "no_police_phone"
            _stamp(session, assignment, escalated_at=now)
            record(
                session,
                SYSTEM,
                "assignment.escalate",
                "assignment",
                assignment.id,
                to_state=assignment.status.value,
                details={
                    "request_id": assignment.request_id,
                    "preservation_deadline": assignment.preservation_deadline.isoformat(),
                },
            )
            return "escalated"

        return _each_in_savepoint(session, assignments, escalate)

    return _in_batches(sessions, Assignment, candidates, escalate_batch)


def expire_overdue(sessions: sessionmaker, settings: NotificationSettings, now: datetime) -> Counter:
    """Expire unanswered assignments whose footage may be overwritten, then requests past their deadline.

    A request past its deadline whose assignments are all final resolves
    (with its outcome) instead of expiring, as the transition table allows.
    """

    def expire_assignments(session: Session, assignments: Sequence[Assignment]) -> Counter:
        def expire_assignment(assignment: Assignment) -> str:
            transition_assignment(
                session, SYSTEM, assignment, "expire", now=now, note="no answer before the footage may be overwritten"
            )
            return "assignments_expired"

        return _each_in_savepoint(session, assignments, expire_assignment)

    def close_requests(session: Session, requests: Sequence[FootageRequest]) -> Counter:
        def close_request(request: FootageRequest) -> str:
            if all_final(request) and (request.status, "resolve") in REQUEST_TRANSITIONS:
                transition_request(
                    session, SYSTEM, request, "resolve", note="deadline reached", details=outcome(request)
                )
                return "requests_resolved"
            transition_request(session, SYSTEM, request, "expire", note="deadline reached", details=outcome(request))
            return "requests_expired"

        return _each_in_savepoint(session, requests, close_request)

    overdue_assignments = select(Assignment).where(
        Assignment.status.in_(UNANSWERED), Assignment.preservation_deadline <= now
    )
    overdue_requests = select(FootageRequest).where(
        FootageRequest.status.in_(LIVE_REQUEST_STATES), FootageRequest.deadline <= now
    )
    return _in_batches(sessions, Assignment, overdue_assignments, expire_assignments) + _in_batches(
        sessions, FootageRequest, overdue_requests, close_requests
    )


def invite_renewals(sessions: sessionmaker, settings: NotificationSettings, now: datetime) -> Counter:
    """Invite owners to renew, once, 30 days before a commitment's valid_until.

    A commitment already followed by a renewal (a later one of the same
    owner, unrevoked, lasting longer) needs no invitation.
    """
    successor = aliased(SharingCommitment)
    renewed = exists(
        select(successor.id).where(
            successor.owner_id == SharingCommitment.owner_id,
            successor.id != SharingCommitment.id,
            successor.signed_at > SharingCommitment.signed_at,
            successor.revoked_at.is_(None),
            or_(successor.valid_until.is_(None), successor.valid_until > SharingCommitment.valid_until),
        )
    )
    candidates = select(SharingCommitment).where(
        SharingCommitment.valid_until.is_not(None),
        SharingCommitment.revoked_at.is_(None),
        SharingCommitment.renewal_invited_at.is_(None),
        SharingCommitment.valid_until > now,
        SharingCommitment.valid_until <= now + RENEWAL_NOTICE,
        ~renewed,
    )

    def invite_batch(session: Session, commitments: Sequence[SharingCommitment]) -> Counter:
        def invite(commitment: SharingCommitment) -> str:
            messages = (
                invite_renewal(session, commitment, settings.public_base_url, settings.channel_plan, now)
                if _reachable(commitment.owner, settings)
                else []
            )
            if not messages:
                return "no_contact"
            commitment.renewal_invited_at = now
            record(
                session,
                SYSTEM,
                "commitment.invite_renewal",
                "commitment",
                commitment.id,
                details={
                    "valid_until": commitment.valid_until.isoformat(),
                    "channels": sorted(message.channel.value for message in messages),
                },
            )
            return "invited"

        return _each_in_savepoint(session, commitments, invite)

    return _in_batches(sessions, SharingCommitment, candidates, invite_batch)


def fall_back_unreceipted(sessions: sessionmaker, settings: NotificationSettings, now: datetime) -> Counter:
    """Send the SMS (or the next channel) for each ZNS sent NOTIFY_RECEIPT_WAIT_MINUTES ago without a receipt.

    ZNS reports deliveries only, so silence is how a ZNS that did not arrive
    shows: the message fails (time_out) and its fallback is queued in the same
    unit; a receipt arriving later changes nothing.
    """
    candidates = select(OutboxMessage).where(
        OutboxMessage.channel == Channel.ZNS,
        OutboxMessage.status == MessageStatus.SENT,
        OutboxMessage.sent_at <= now - settings.receipt_wait,
    )
    detail = f"no delivery receipt within {settings.receipt_wait_minutes:g} minutes"

    def time_out_batch(session: Session, messages: Sequence[OutboxMessage]) -> Counter:
        def time_out(message: OutboxMessage) -> str:
            fallback = fail_message(session, message, "time_out", detail, settings.channel_plan, now)
            return "fell_back" if fallback else "timed_out"

        return _each_in_savepoint(session, messages, time_out)

    return _in_batches(sessions, OutboxMessage, candidates, time_out_batch)
