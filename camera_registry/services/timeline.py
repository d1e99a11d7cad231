"""A footage request's history, read from the audit trail and the outbox: who did what to it and its owners'
assignments, and when, for the request's page.

Every kind is from a closed list (KINDS): an audit action not in it (one added later) is left out rather than shown
raw. What an event says is only what its page's reader may already see: the owner by the assignment's rank, a
clip by its file name, a message by its kind and channel; never an owner's phone, a message's recipient or body,
or a link's token. A fixed handful of queries, however long the request's history.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from ..models import Assignment, AuditEvent, FootageClip, FootageRequest, OutboxMessage, Role, User

#: The audit actions a timeline shows, by the kind it shows them as (the action itself).
AUDITED_KINDS = frozenset(
    {
        "request.create",
        "request.open",
        "request.route",
        "request.start",
        "request.resolve",
        "request.cancel",
        "request.expire",
        "assignment.notify",
        "assignment.view",
        "assignment.consent",
        "assignment.decline",
        "assignment.report_no_footage",
        "assignment.receive_footage",
        "assignment.close",
        "assignment.expire",
        "assignment.withdraw",
        "assignment.remind",
        "assignment.escalate",
        "clip.upload_started",
        "clip.upload_refused",
        "clip.upload_terminated",
        "clip.upload_expired",
        "clip.upload_finished",
        "clip.downloaded",
        "clip.deleted",
        "evidence.package_created",
        "owner.contacts_read",
    }
)
#: A message's life, from the outbox: queued, handed to its channel, delivered, given up.
MESSAGE_KINDS = ("message.queued", "message.sent", "message.delivered", "message.failed")
KINDS = AUDITED_KINDS | frozenset(MESSAGE_KINDS)

#: What each audited kind may show of its details, and nothing else.
SHOWN_DETAILS = {
    "assignment.remind": ("reminder", "channels"),
    "assignment.escalate": ("preservation_deadline",),
    "clip.upload_finished": ("name", "size_bytes"),
    "clip.downloaded": ("name",),
    "clip.deleted": ("name",),
    "owner.contacts_read": ("seen_on",),
}


@dataclass(frozen=True)
class Who:
    """Who acted, as a reader knows them: an officer by full name and role, a camera owner through their link,
    or the system (the scheduler, a provider's receipt)."""

    kind: str  # "user", "owner" or "system"
    name: str = ""
    role: Role | None = None


SYSTEM_WHO = Who("system")
OWNER_WHO = Who("owner")


@dataclass(frozen=True)
class TimelineEvent:
    at: datetime
    who: Who
    kind: str  # one of KINDS
    rank: int | None = None  # the assignment (one owner) it is about, by its rank on the request's page
    details: dict = field(default_factory=dict)


def request_timeline(session: Session, request: FootageRequest) -> list[TimelineEvent]:
    """The events of one request, already read within its reader's reach, oldest first."""
    ranks = {assignment.id: assignment.rank for assignment in request.assignments}
    clips = dict(
        session.execute(
            select(FootageClip.id, FootageClip.assignment_id)
            .join(Assignment)
            .where(Assignment.request_id == request.id)
        ).all()
    )
    messages = session.scalars(
        select(OutboxMessage).where(OutboxMessage.assignment_id.in_(ranks)).order_by(OutboxMessage.id)
    ).all()
    scopes = [("request", [request.id]), ("assignment", list(ranks)), ("footage_clip", list(clips))]
    audited = session.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.action.in_(AUDITED_KINDS),
            or_(
                *(
                    and_(AuditEvent.entity_type == kind, AuditEvent.entity_id.in_([str(i) for i in ids]))
                    for kind, ids in scopes
                    if ids
                )
            ),
        )
        .order_by(AuditEvent.occurred_at, AuditEvent.id)
    ).all()
    users = {
        user.id: user
        for user in session.scalars(
            select(User).where(User.id.in_({event.actor_user_id for event in audited} - {None}))
        )
    }
    events = [_audited(event, users, ranks, clips) for event in audited]
    events += [moment for message in messages for moment in _message_events(message, ranks)]
    return sorted(events, key=lambda event: event.at)


def _audited(event: AuditEvent, users: dict[int, User], ranks: dict[int, int], clips: dict[int, int]) -> TimelineEvent:
    details = event.details or {}
    if event.entity_type == "assignment":
        assignment_id = int(event.entity_id)
    elif event.entity_type == "footage_clip":
        assignment_id = clips.get(int(event.entity_id))
    else:
        assignment_id = details.get("assignment_id")
    shown = {name: details[name] for name in SHOWN_DETAILS.get(event.action, ()) if details.get(name) is not None}
    if "preservation_deadline" in shown:  # audited as ISO text; shown in Vietnam time like every other moment
        shown["preservation_deadline"] = datetime.fromisoformat(shown["preservation_deadline"])
    return TimelineEvent(event.occurred_at, who_did(event, users), event.action, ranks.get(assignment_id), shown)


def who_did(event: AuditEvent, users: dict[int, User]) -> Who:
    """The audit event's actor as a reader knows them; `users` holds the event's user, by id, if it has one."""
    user = users.get(event.actor_user_id)
    if user is not None:
        return Who("user", user.full_name or user.username, user.role)
    return OWNER_WHO if event.actor_label.startswith("owner:") else SYSTEM_WHO


def _message_events(message: OutboxMessage, ranks: dict[int, int]) -> list[TimelineEvent]:
    details = {"message": message.id, "message_kind": message.kind, "channel": message.channel.value}
    if message.falls_back_from_id:
        details["replaces"] = message.falls_back_from_id
    moments = zip(MESSAGE_KINDS, (message.created_at, message.sent_at, message.delivered_at, message.failed_at))
    return [
        TimelineEvent(at, SYSTEM_WHO, kind, ranks.get(message.assignment_id), details)
        for kind, at in moments
        if at is not None
    ]
