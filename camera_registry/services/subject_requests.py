"""Data-subject requests (Law 91/2025/QH15, Decree 356/2025/NĐ-CP): an owner asks to see, correct, restrict or
delete their data, through their link's page (/o/<token>/data) or through an officer who takes it down.

The clocks are fixed when the request is filed: acknowledged by the end of the second working day
(working_days.py), completed by the end of the 15th day, or the 20th where a processor holds part of the data;
one extension of at most 15 days, with a reason. Who handles them: administrators and the police of the owner's
commune, the roles that may see the owner's contact data (access.py).

What completing does, by kind:
- access: nothing changes; the export (`owner_export`) of everything held about the owner is theirs to read on
  their link's page and the officer's to hand over;
- correction: the officer's changes go through the owner update (owners.py), audited by field name;
- restriction: the owner gets no reminders, renewal invitations or invitations to sign from then on (their
  `non_urgent_opt_out`); footage requests still reach them, since the police ask for footage under the Criminal
  Procedure Code, a use the law allows without consent. A completed restriction request is the stored fact;
- deletion: the owner is anonymised (`erase_owner`): name and contacts replaced, their links revoked, the
  messages sent to them scrubbed, their words in these requests cleared, the device facts of their consents
  cleared (the consents themselves stay, as proof). Recorders, lenses, commitments and
  assignments stay (the figures count them; the assignments are part of police cases), as do the audit trail's
  facts (ids, kinds, times), which never held the contact values.

Every step is audited; listing and showing never write, except the audit of an export's disclosure, which is
written after the read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from geoalchemy2.shape import to_shape
from sqlalchemy import or_, select, true
from sqlalchemy.orm import Session

from ..db import after_read
from ..models import (
    OPEN_SUBJECT_REQUEST_STATES,
    SUBJECT_REQUEST_TRANSITIONS,
    Assignment,
    AuditEvent,
    ConsentRecord,
    FootageClip,
    MessageStatus,
    OutboxMessage,
    Owner,
    OwnerLink,
    SharingCommitment,
    SubjectRequest,
    SubjectRequestChannel,
    SubjectRequestKind,
    SubjectRequestStatus,
    message_transition,
)
from ..models.base import utcnow
from .access import Actor, owner_actor
from .audit import record
from .channels.templates import MessageKind
from .errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from .listing import Page, page_of
from .messages import domain_term, refusal
from .owner_links import resolve_link, revoke_owner_links
from .owner_pages import DEAD_STATES, OwnerPage, PageState, owner_page
from .owners import ANONYMISED_NAME, anonymise_owner, update_owner
from .records import get_writable
from .workflow import transition_subject_request
from .working_days import end_of_days, end_of_working_days

ACKNOWLEDGE_WORKING_DAYS = 2
COMPLETE_DAYS = 15
COMPLETE_DAYS_WITH_PROCESSOR = 20
MAX_EXTENSION_DAYS = 15
DETAILS_MAX_LENGTH = 2000
#: The owner fields a correction may change.
CORRECTABLE_FIELDS = ("name", "phone", "email", "address")
#: What stands in for a scrubbed message's recipient and text.
SCRUBBED = "[anonymised]"
#: The owner's messages: those of their assignments (the police's escalations among them, which name the owner)
#: and of their commitments and invitations, found by their payload.
COMMITMENT_KINDS = (MessageKind.RENEWAL.value, MessageKind.INVITATION.value)
ENTITY = "subject_request"


@dataclass(frozen=True)
class Clocks:
    acknowledge_by: datetime
    complete_by: datetime


def clocks(filed_at: datetime, processor_involved: bool) -> Clocks:
    """The legal deadlines of a request filed at `filed_at`."""
    days = COMPLETE_DAYS_WITH_PROCESSOR if processor_involved else COMPLETE_DAYS
    return Clocks(end_of_working_days(filed_at, ACKNOWLEDGE_WORKING_DAYS), end_of_days(filed_at, days))


# --------------------------------------------------------------------------- filing


def _check_details(details: str) -> str:
    details = (details or "").strip()
    if len(details) > DETAILS_MAX_LENGTH:
        reason = refusal("at most %(count)s characters", count=DETAILS_MAX_LENGTH)
        raise ValidationFailed(refusal("details: %(reason)s", reason=reason), {"details": [reason]})
    return details


def _refuse_a_second_open(session: Session, owner_id: int, kind: SubjectRequestKind) -> None:
    open_id = session.scalar(
        select(SubjectRequest.id).where(
            SubjectRequest.owner_id == owner_id,
            SubjectRequest.kind == kind,
            SubjectRequest.status.in_(OPEN_SUBJECT_REQUEST_STATES),
        )
    )
    if open_id is not None:
        reason = refusal("a %(kind)s request is already open (number %(id)s)", kind=domain_term(kind.value), id=open_id)
        raise Conflict(reason, {"kind": [reason]})


def _file(
    session: Session,
    actor: Actor,
    owner: Owner,
    kind: SubjectRequestKind,
    details: str,
    channel: SubjectRequestChannel,
    processor_involved: bool,
    now: datetime,
    link: OwnerLink | None = None,
) -> SubjectRequest:
    details = _check_details(details)
    _refuse_a_second_open(session, owner.id, kind)
    due = clocks(now, processor_involved)
    subject_request = SubjectRequest(
        owner_id=owner.id,
        kind=kind,
        channel=channel,
        details=details,
        filed_at=now,
        filed_by_user_id=actor.user_id,
        filed_through_link_id=link.id if link is not None else None,
        processor_involved=processor_involved,
        acknowledge_by=due.acknowledge_by,
        complete_by=due.complete_by,
    )
    session.add(subject_request)
    session.flush()
    record(
        session,
        actor,
        f"{ENTITY}.file",
        ENTITY,
        subject_request.id,
        to_state=subject_request.status.value,
        details={"owner_id": owner.id, "kind": kind.value, "channel": channel.value},
    )
    return subject_request


def live_link_page(session: Session, raw_token: str, language: str, now: datetime) -> OwnerPage:
    """The owner's page behind a token, as the data page checks it: a dead or unknown link acts for nobody."""
    return owner_page(session, resolve_link(session, raw_token, now), language, now)


def link_acts(page: OwnerPage) -> bool:
    return page.state != PageState.UNKNOWN and page.state not in DEAD_STATES


def _owner_of_link(session: Session, raw_token: str, now: datetime) -> OwnerPage:
    page = live_link_page(session, raw_token, "vi", now)
    if not link_acts(page):
        raise NotFound(refusal("this link no longer works"))
    return page


def file_by_owner(
    session: Session, raw_token: str, kind: SubjectRequestKind, details: str, *, now: datetime | None = None
) -> SubjectRequest:
    """The owner files a request through their live link (any link of theirs that still shows its page)."""
    now = now or utcnow()
    link = _owner_of_link(session, raw_token, now).link
    owner = session.get(Owner, link.owner_id)
    return _file(
        session, owner_actor(owner.id), owner, kind, details, SubjectRequestChannel.OWNER_LINK, False, now, link
    )


def file_for_owner(
    session: Session,
    actor: Actor,
    owner_id: int,
    kind: SubjectRequestKind,
    details: str,
    channel: SubjectRequestChannel,
    *,
    processor_involved: bool = False,
    now: datetime | None = None,
) -> SubjectRequest:
    """An officer files the owner's request as the owner made it (in person, by phone, on paper, by e-mail)."""
    if channel == SubjectRequestChannel.OWNER_LINK:
        reason = refusal("only the owner files through their link")
        raise ValidationFailed(refusal("channel: %(reason)s", reason=reason), {"channel": [reason]})
    _require_handler(actor)
    owner = get_writable(session, actor, Owner, owner_id, "owner")
    return _file(session, actor, owner, kind, details, channel, processor_involved, now or utcnow())


# --------------------------------------------------------------------------- reading


def _require_handler(actor: Actor) -> None:
    """Requests carry the owner's words and lead to their data: the roles that see contacts handle them."""
    if actor.owner_id is not None or not (actor.is_admin or actor.writable_communes):
        raise PermissionDenied(
            refusal("%(actor)s may not handle data-subject requests", actor=actor.name),
        )


def _in_reach(actor: Actor):
    if actor.writable_communes is None:
        return true()
    return Owner.commune_id.in_(sorted(actor.writable_communes))


def list_requests(
    session: Session,
    actor: Actor,
    *,
    status: SubjectRequestStatus | None = None,
    open_only: bool = False,
    owner_id: int | None = None,
    page: int = 1,
    page_size: int = 50,
) -> Page[SubjectRequest]:
    """The requests of owners in the actor's reach, the soonest due first."""
    _require_handler(actor)
    statement = select(SubjectRequest).join(Owner, SubjectRequest.owner_id == Owner.id).where(_in_reach(actor))
    if status is not None:
        statement = statement.where(SubjectRequest.status == status)
    if open_only:
        statement = statement.where(SubjectRequest.status.in_(OPEN_SUBJECT_REQUEST_STATES))
    if owner_id is not None:
        statement = statement.where(SubjectRequest.owner_id == owner_id)
    statement = statement.order_by(SubjectRequest.complete_by, SubjectRequest.id)
    return page_of(session, statement, page, page_size)


def get_request(session: Session, actor: Actor, request_id: int) -> SubjectRequest:
    _require_handler(actor)
    found = session.get(SubjectRequest, request_id)
    if found is None or not actor.can_write(found.owner.commune_id):
        raise NotFound.of(ENTITY, request_id)
    return found


def owner_requests(session: Session, owner_id: int) -> list[SubjectRequest]:
    """An owner's own requests, newest first, for their data page."""
    return list(
        session.scalars(
            select(SubjectRequest)
            .where(SubjectRequest.owner_id == owner_id)
            .order_by(SubjectRequest.filed_at.desc(), SubjectRequest.id.desc())
        )
    )


# --------------------------------------------------------------------------- the steps


def _locked(session: Session, actor: Actor, request_id: int) -> SubjectRequest:
    found = get_request(session, actor, request_id)
    session.refresh(found, with_for_update=True)
    return found


def acknowledge(
    session: Session, actor: Actor, request_id: int, *, expected_version: int | None = None, now: datetime | None = None
) -> SubjectRequest:
    now = now or utcnow()
    found = _locked(session, actor, request_id)
    changes = {"acknowledged_at": now, "acknowledged_by_user_id": actor.user_id}
    details = {"late": now > found.acknowledge_by}
    return transition_subject_request(
        session, actor, found, "acknowledge", expected_version=expected_version, changes=changes, details=details
    )


def extend(
    session: Session,
    actor: Actor,
    request_id: int,
    days: int,
    reason: str,
    *,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> SubjectRequest:
    """Move the completion deadline once, by 1 to 15 days, saying why; a second extension is refused (409)."""
    now = now or utcnow()
    found = _locked(session, actor, request_id)
    reason = (reason or "").strip()
    if not reason:
        why = refusal("say why the request needs more time")
        raise ValidationFailed(refusal("reason: %(reason)s", reason=why), {"reason": [why]})
    if not 1 <= days <= MAX_EXTENSION_DAYS:
        why = refusal("between 1 and %(most)s days", most=MAX_EXTENSION_DAYS)
        raise ValidationFailed(refusal("days: %(reason)s", reason=why), {"days": [why]})
    if found.extended_until is not None:
        why = refusal("a request is extended once only; it was extended already")
        raise Conflict(why, {"action": [why]})
    changes = {
        "extended_until": found.complete_by + timedelta(days=days),
        "extension_reason": reason,
        "extended_by_user_id": actor.user_id,
    }
    return transition_subject_request(
        session,
        actor,
        found,
        "extend",
        expected_version=expected_version,
        note=reason,
        details={"days": days},
        changes=changes,
    )


def refuse(
    session: Session,
    actor: Actor,
    request_id: int,
    reason: str,
    *,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> SubjectRequest:
    """Close a request without doing it, saying why (the owner sees the reason)."""
    reason = (reason or "").strip()
    if not reason:
        why = refusal("say why the request is refused")
        raise ValidationFailed(refusal("reason: %(reason)s", reason=why), {"reason": [why]})
    found = _locked(session, actor, request_id)
    changes = {"closed_at": now or utcnow(), "closed_by_user_id": actor.user_id, "outcome_note": reason}
    return transition_subject_request(
        session, actor, found, "refuse", expected_version=expected_version, note=reason, changes=changes
    )


def complete(
    session: Session,
    actor: Actor,
    request_id: int,
    *,
    note: str | None = None,
    changes: dict | None = None,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> SubjectRequest:
    """Do what the request asks (see the module's text), then close it; `changes` are a correction's."""
    now = now or utcnow()
    found = _locked(session, actor, request_id)
    if (found.status, "complete") not in SUBJECT_REQUEST_TRANSITIONS:  # the table's refusal, before any work
        return transition_subject_request(session, actor, found, "complete", expected_version=expected_version)
    closing = {"closed_at": now, "closed_by_user_id": actor.user_id, "outcome_note": (note or "").strip() or None}
    details: dict = {"kind": found.kind.value}
    if found.kind == SubjectRequestKind.CORRECTION:
        changes = {name: value for name, value in (changes or {}).items() if name in CORRECTABLE_FIELDS}
        if not changes:
            why = refusal("name the owner's fields to correct (%(fields)s)", fields=", ".join(CORRECTABLE_FIELDS))
            raise ValidationFailed(refusal("changes: %(reason)s", reason=why), {"changes": [why]})
        update_owner(session, actor, found.owner_id, changes)
        closing["corrected_fields"] = details["fields"] = sorted(changes)
    elif found.kind == SubjectRequestKind.RESTRICTION:
        owner = get_writable(session, actor, Owner, found.owner_id, "owner")
        if not owner.non_urgent_opt_out:
            owner.non_urgent_opt_out = True
            record(session, actor, "owner.restrict", "owner", owner.id, details={"non_urgent_opt_out": True})
    elif found.kind == SubjectRequestKind.DELETION:
        details.update(erase_owner(session, actor, found.owner_id, now))
    return transition_subject_request(
        session,
        actor,
        found,
        "complete",
        expected_version=expected_version,
        note=closing["outcome_note"],
        details=details,
        changes=closing,
    )


# --------------------------------------------------------------------------- deletion


def _messages_of(session: Session, owner: Owner) -> list[OutboxMessage]:
    """The outbox rows that went to the owner or name them. A commitment's messages name it only in their payload,
    which neither database indexes alike, so those of the commitment kinds are read and picked here."""
    assignment_ids = select(Assignment.id).where(Assignment.owner_id == owner.id)
    commitment_ids = set(session.scalars(select(SharingCommitment.id).where(SharingCommitment.owner_id == owner.id)))
    rows = session.scalars(
        select(OutboxMessage)
        .where(
            or_(
                OutboxMessage.assignment_id.in_(assignment_ids),
                OutboxMessage.assignment_id.is_(None) & OutboxMessage.kind.in_(COMMITMENT_KINDS),
            )
        )
        .order_by(OutboxMessage.id)
    )
    return [
        message
        for message in rows
        if message.assignment_id is not None
        or (message.payload or {}).get("commitment_id") in commitment_ids
        or (message.payload or {}).get("invited_owner_id") == owner.id
    ]


def erase_owner(session: Session, actor: Actor, owner_id: int, now: datetime) -> dict[str, int]:
    """Anonymise an owner and what names them; returns the counts of what was scrubbed, for the audit trail."""
    anonymise_owner(session, actor, owner_id)  # name and contacts, audited as owner.anonymise
    owner = session.get(Owner, owner_id)
    owner.zalo, owner.preferred_channel, owner.language, owner.non_urgent_opt_out = False, None, None, True
    links = revoke_owner_links(session, owner, now)
    messages = _messages_of(session, owner)
    for message in messages:
        if message.status == MessageStatus.PENDING:  # nothing more goes out to an address that is gone
            message.status = message_transition(message.status, "give_up")
            message.last_error = "the owner was anonymised on their request"
        if message.kind != MessageKind.ESCALATION.value:  # an escalation went to the police, and names the owner
            message.recipient = SCRUBBED
        message.subject, message.body = "", SCRUBBED
        message.payload = {name: value for name, value in (message.payload or {}).items() if name != "parameters"}
    for own in session.scalars(select(SubjectRequest).where(SubjectRequest.owner_id == owner_id)):
        own.details = ""
    # A consent's proof keeps the act (when, which notice, how); the device it came from goes with the owner.
    for consent in session.scalars(select(ConsentRecord).where(ConsentRecord.owner_id == owner_id)):
        consent.user_agent = consent.client_address = consent.accept_language = None
    session.flush()
    return {"links_revoked": links, "messages_scrubbed": len(messages)}


def is_anonymised(owner: Owner) -> bool:
    return owner.name == ANONYMISED_NAME and not any((owner.phone, owner.email, owner.address))


# --------------------------------------------------------------------------- the export


def owner_export(session: Session, owner_id: int) -> dict:
    """Everything the registry holds about one owner, as plain JSON values (times in ISO 8601, UTC)."""
    owner = session.get(Owner, owner_id)
    recorders = sorted(owner.recorders, key=lambda recorder: recorder.id)
    sites = {recorder.site.id: recorder.site for recorder in recorders if recorder.site is not None}
    assignments = list(
        session.scalars(select(Assignment).where(Assignment.owner_id == owner.id).order_by(Assignment.id))
    )
    clips = list(
        session.scalars(
            select(FootageClip)
            .where(FootageClip.assignment_id.in_([assignment.id for assignment in assignments]))
            .order_by(FootageClip.id)
        )
    )
    return {
        "owner": {
            "id": owner.id,
            "external_id": owner.external_id,
            "kind": owner.kind.value,
            "name": owner.name,
            "phone": owner.phone,
            "email": owner.email,
            "address": owner.address,
            "zalo": owner.zalo,
            "preferred_channel": owner.preferred_channel.value if owner.preferred_channel else None,
            "non_urgent_opt_out": owner.non_urgent_opt_out,
            "language": owner.language,
            "commune": owner.commune.name if owner.commune else None,
        },
        "sites": [{"code": site.code, "name": site.name} for site in sites.values()],
        "recorders": [
            {
                "external_id": recorder.external_id,
                "site": recorder.site.code if recorder.site else None,
                "retention_days": recorder.retention_days,
                "make": recorder.make,
                "model": recorder.model,
                "status": recorder.status.value,
                **_lon_lat(recorder.point),
            }
            for recorder in recorders
        ],
        "lenses": [
            {
                "external_id": lens.external_id,
                "recorder": recorder.external_id,
                "bearing_deg": lens.bearing_deg,
                "fov_deg": lens.fov_deg,
                "range_m": lens.range_m,
                "status": lens.status.value,
                **_lon_lat(lens.point),
            }
            for recorder in recorders
            for lens in sorted(recorder.lenses, key=lambda lens: lens.id)
        ],
        "commitments": [
            {
                "signed_at": _iso(commitment.signed_at),
                "valid_until": _iso(commitment.valid_until),
                "revoked_at": _iso(commitment.revoked_at),
                "channel": commitment.channel.value,
                "all_recorders": commitment.all_recorders,
                "text_version": commitment.text_version,
                "text": commitment.text.body if commitment.text else None,
            }
            for commitment in sorted(owner.commitments, key=lambda commitment: commitment.id)
        ],
        "consents": [
            {
                "purpose": consent.purpose.value,
                "channel": consent.channel.value,
                "given_at": _iso(consent.given_at),
                "notice_version": consent.notice_version,
                "notice_text": consent.notice_text,
                "user_agent": consent.user_agent,
                "client_address": consent.client_address,
            }
            for consent in session.scalars(
                select(ConsentRecord).where(ConsentRecord.owner_id == owner.id).order_by(ConsentRecord.id)
            )
        ],
        "assignments": [
            {
                "id": assignment.id,
                "status": assignment.status.value,
                "preservation_deadline": _iso(assignment.preservation_deadline),
                "answered_at": _iso(assignment.answered_at),
                "handover": assignment.handover.value if assignment.handover else None,
                "answer_note": assignment.answer_note,
            }
            for assignment in assignments
        ],
        "clips": [
            {
                "assignment_id": clip.assignment_id,
                "original_name": clip.original_name,
                "content_type": clip.content_type,
                "size_bytes": clip.size_bytes,
                "sha256": clip.sha256,
                "uploaded_at": _iso(clip.uploaded_at),
            }
            for clip in clips
        ],
        "contact_reads": _contact_reads(session, owner.id),
        "messages": [
            {
                "channel": message.channel.value,
                "kind": message.kind,
                "created_at": _iso(message.created_at),
                "sent_at": _iso(message.sent_at),
                "status": message.status.value,
            }
            for message in _messages_of(session, owner)
            if message.kind != MessageKind.ESCALATION.value
        ],
        "subject_requests": [
            {"id": own.id, "kind": own.kind.value, "status": own.status.value, "filed_at": _iso(own.filed_at)}
            for own in owner_requests(session, owner.id)
        ],
    }


def _contact_reads(session: Session, owner_id: int) -> list[dict]:
    """Who was shown the owner's contacts, and where (the audit trail's owner.contacts_read events)."""
    events = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "owner.contacts_read").order_by(AuditEvent.occurred_at)
    )
    return [
        {"at": _iso(event.occurred_at), "by": event.actor_label, "seen_on": event.details.get("seen_on")}
        for event in events
        if owner_id in (event.details or {}).get("owner_ids", [])
    ]


def _lon_lat(point) -> dict:
    shape = to_shape(point)
    return {"lon": round(shape.x, 6), "lat": round(shape.y, 6)}


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def export_for_staff(session: Session, actor: Actor, request_id: int) -> dict:
    """An access request's export, for the officer to hand over; the disclosure is audited after the read."""
    found = get_request(session, actor, request_id)
    if found.kind != SubjectRequestKind.ACCESS:
        raise NotFound(refusal("only an access request has an export"))
    owner_id = found.owner_id
    read = f"{ENTITY}.export_read"
    after_read(session, lambda writer: record(writer, actor, read, ENTITY, request_id, details={"owner_id": owner_id}))
    return owner_export(session, owner_id)


def export_for_owner(session: Session, raw_token: str, request_id: int, *, now: datetime | None = None) -> dict:
    """The export of the link's owner's completed access request."""
    now = now or utcnow()
    owner_id = _owner_of_link(session, raw_token, now).link.owner_id
    found = session.get(SubjectRequest, request_id)
    if (
        found is None
        or found.owner_id != owner_id
        or found.kind != SubjectRequestKind.ACCESS
        or found.status != SubjectRequestStatus.COMPLETED
    ):
        raise NotFound.of(ENTITY, request_id)
    return owner_export(session, owner_id)
