"""Owners: a footage request's assignment announced, and reminded."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from ...models import (
    AdminUnit,
    Assignment,
    AssignmentStatus,
    FootageRequest,
    OutboxMessage,
)
from ...models.base import utcnow
from ...timezones import local_time
from ..access import SYSTEM
from ..channels.templates import TEMPLATES, MessageKind
from ..wording import message_language, say
from ..workflow import transition_assignments
from .outbox import Letter, Texts, _queue, footer, owner_channels, owner_link_slot, queue_letters
from .settings import ChannelPlan, channel_plan


def police_unit(language: str, commune: AdminUnit | None) -> str:
    """Who asks, as a message names them: the commune's police."""
    if commune is None:
        return say(language, "The commune or ward police")
    return say(language, "Police of %(commune)s", commune=commune.name)


def _assignment_texts(assignment: Assignment, link_url: str, number: int | None = None) -> Texts:
    """The request, or its `number`th reminder, in the owner's language. Two deadlines, told apart: the footage
    is kept until the recorder overwrites it (`overwrite_deadline`), and the answer is due by the assignment's
    `preservation_deadline`, which the police's reply deadline may bring forward; the link expires with it."""
    request, owner = assignment.request, assignment.owner
    language = message_language(owner.language)
    unit = police_unit(language, request.commune)
    ask = say(language, "keep and hand over") if assignment.covered_by_commitment else say(language, "allow a copy of")
    keep_until = local_time(assignment.overwrite_deadline)
    answer_by = local_time(assignment.preservation_deadline)
    lenses = ", ".join(item.lens.external_id for item in assignment.lenses)
    parameters = {
        "owner_name": owner.name,
        "police_unit": unit,
        "ask": ask,
        # The assignment's window: its lenses' together, narrower than the request's on a timed route.
        "window_start": local_time(assignment.window_start),
        "window_end": local_time(assignment.window_end),
        "case_ref": request.case_ref,
        "keep_until": keep_until,
        "deadline": answer_by,
        **({"number": str(number)} if number else {}),
    }
    kind = MessageKind.REMINDER if number else MessageKind.REQUEST
    short = TEMPLATES[kind].in_language(language).short_text({**parameters, "link": link_url})
    lead = say(language, "Reminder %(number)s:", number=number) if number else ""
    phone = request.commune.police_phone
    body = "\n".join(
        [
            say(language, "Dear %(name)s,", name=owner.name),
            "",
            *([lead, ""] if lead else []),
            say(
                language,
                "%(police_unit)s asks you to %(ask)s the camera footage recorded from %(start)s to %(end)s.",
                police_unit=unit,
                ask=ask,
                start=parameters["window_start"],
                end=parameters["window_end"],
            ),
            "",
            say(language, "Case: %(case_ref)s", case_ref=request.case_ref),
            say(language, "Legal basis: %(legal_basis)s", legal_basis=request.legal_basis),
            say(language, "Lenses concerned (%(count)s): %(lenses)s", count=len(assignment.lenses), lenses=lenses),
            say(
                language,
                "Keep the footage until: %(keep_until)s (after that the recorder may overwrite it)",
                keep_until=keep_until,
            ),
            *(
                [say(language, "The police need your answer by: %(answer_by)s", answer_by=answer_by)]
                if request.deadline is not None
                else []
            ),
            "",
            say(language, "To answer (agree, decline or report that you have no footage), open the link made for you:"),
            link_url,
            "",
            say(
                language,
                "The link is for this request only and expires at %(answer_by)s; please do not pass it on.",
                answer_by=answer_by,
            ),
            *footer(language, unit, phone, link_url),
            say(language, "Times are Vietnam time (UTC+7)."),
        ]
    )
    subject = say(language, "Request for camera footage – case %(case_ref)s", case_ref=request.case_ref)
    if lead:
        subject = f"{lead} {subject}"
    return Texts(short, subject, body, parameters, language)


def _assignment_payload(assignment: Assignment, link_url: str) -> dict:
    return {
        "assignment_id": assignment.id,
        "request_id": assignment.request_id,
        "link": link_url,
        "preservation_deadline": assignment.preservation_deadline.isoformat(),
        "overwrite_deadline": assignment.overwrite_deadline.isoformat(),
    }


def _request_letter(assignment: Assignment, link_url: str, plan: ChannelPlan, now: datetime) -> Letter:
    return Letter(
        key=f"assignment:{assignment.id}:request",
        kind=MessageKind.REQUEST.value,
        recipients=owner_channels(assignment.owner, plan),
        texts=_assignment_texts(assignment, link_url),
        payload=_assignment_payload(assignment, link_url),
        assignment=assignment,
        now=now,
        deadline=assignment.preservation_deadline,
    )


def notify_assignment(
    session: Session, assignment: Assignment, link_url: str, plan: ChannelPlan, now: datetime
) -> list[OutboxMessage]:
    """Ask the owner to answer an assignment through `link_url` (`owner_link_slot`), on their first channel (or,
    without a provider, each they have); by ZNS or SMS at night only when its footage may be lost within a day."""
    return queue_letters(session, [_request_letter(assignment, link_url, plan, now)])[0]


def remind_assignment(
    session: Session, assignment: Assignment, link_url: str, number: int, plan: ChannelPlan, now: datetime
) -> list[OutboxMessage]:
    """The `number`th reminder of an unanswered assignment; like every message it gets a fresh link when sent, and
    by ZNS or SMS it waits out the quiet hours."""
    return _queue(
        session,
        key=f"assignment:{assignment.id}:reminder:{number}",
        kind=MessageKind.REMINDER.value,
        recipients=owner_channels(assignment.owner, plan),
        texts=_assignment_texts(assignment, link_url, number),
        payload={**_assignment_payload(assignment, link_url), "reminder": number},
        assignment=assignment,
        now=now,
    )


def announce_routed_request(session: Session, request: FootageRequest, base_url: str) -> int:
    """Send each pending assignment of a freshly routed request a message with its link, moving it to notified.

    An owner with neither phone nor e-mail stays pending: the police see they
    must call. Returns how many assignments were notified.
    """
    session.flush()
    plan, now = channel_plan(session), request.routed_at or utcnow()
    link_url = owner_link_slot(base_url)
    notified = [
        assignment
        for assignment in request.assignments
        if assignment.status == AssignmentStatus.PENDING and owner_channels(assignment.owner, plan)
    ]
    queued = queue_letters(session, [_request_letter(assignment, link_url, plan, now) for assignment in notified])
    channels = {
        assignment.id: {"channels": sorted(message.channel.value for message in messages)}
        for assignment, messages in zip(notified, queued)
    }
    transition_assignments(session, SYSTEM, request, notified, "notify", channels)
    return len(notified)
