"""What a camera owner can do through a live link (/o/<token>): look, and answer.

Owners have no accounts: the link is their right to act, so everything here
checks the link (live, its purpose, the state of its assignment or
commitment), never an actor's reach. Answers go through the same workflow
and commitment rules as the police's, with an owner actor naming who acted.
The same answer submitted twice changes nothing and shows the same result;
a different answer after a final one is refused.

The page a link leads to is built in owner_pages.py and clips are uploaded
through owner_uploads.py; this module also offers their names, so the owner
pages reach everything through it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime

from sqlalchemy.orm import Session

from ..db import after_read
from ..models import (
    ASSIGNMENT_TRANSITIONS,
    CommitmentChannel,
    ConsentChannel,
    Handover,
    LinkAnswer,
    LinkPurpose,
    OwnerLink,
)
from ..models.base import utcnow
from .access import owner_actor
from .audit import record
from .commitments import ConsentWay, record_owner_revocation, record_renewal, record_signature
from .consents import record_footage_consent
from .errors import Conflict, ValidationFailed
from .messages import refusal
from .owner_links import LinkState, mark_used, resolve_link
from .owner_pages import (
    ASSIGNMENT_ANSWERS,
    COMMITMENT_ANSWERS,
    CURRENT_TEXT_VERSION,
    DEAD_STATES,
    UPLOAD,
    Answer,
    OwnerPage,
    PageState,
    Refusal,
    commitment_text,
    owner_page,
)
from .owner_uploads import receive_clip, upload_intake
from .requests import apply_assignment_action
from .workflow import StaleVersion, transition_assignment

__all__ = [
    "ASSIGNMENT_ANSWERS",
    "COMMITMENT_ANSWERS",
    "CURRENT_TEXT_VERSION",
    "DEAD_STATES",
    "LINK_ANSWERED",
    "NOTE_MAX_LENGTH",
    "NO_FOOTAGE_REASONS",
    "UPLOAD",
    "Answer",
    "OwnerPage",
    "PageState",
    "Refusal",
    "answer",
    "commitment_text",
    "open_link",
    "receive_clip",
    "upload_intake",
]

NO_FOOTAGE_REASONS = ("camera_off", "overwritten", "other")
NOTE_MAX_LENGTH = 2000
#: How long a commitment signed on the web holds (the text says so).
COMMITMENT_TERM_YEARS = 3

#: The audit action that records what a link was used for (the link itself keeps its answer).
LINK_ANSWERED = "owner_link.answer"


def open_link(session: Session, raw_token: str, *, language: str = "vi", now: datetime | None = None) -> OwnerPage:
    """The page a token leads to; the first look at a live assignment link marks the assignment viewed
    (written after the read: a page view never fails on it)."""
    now = now or utcnow()
    resolved = resolve_link(session, raw_token, now)
    if resolved.state == LinkState.LIVE:
        link_id = resolved.link.id
        after_read(session, lambda writer: _mark_viewed(writer, link_id, now))
    return owner_page(session, resolved, language, now)


def _mark_viewed(session: Session, link_id: int, now: datetime) -> None:
    link = session.get(OwnerLink, link_id)
    if link.first_viewed_at is None:
        link.first_viewed_at = now
    if link.purpose == LinkPurpose.ASSIGNMENT and (link.assignment.status, "view") in ASSIGNMENT_TRANSITIONS:
        try:
            with session.begin_nested():
                transition_assignment(session, owner_actor(link.owner_id), link.assignment, "view", now=now)
        except Conflict:
            pass  # answered at the same moment: that answer is the newer news


def answer(
    session: Session,
    raw_token: str,
    action: str,
    *,
    handover: Handover | None = None,
    reason: str | None = None,
    note: str | None = None,
    language: str = "vi",
    now: datetime | None = None,
    device: Mapping[str, str | None] | None = None,
) -> OwnerPage:
    """Take one answer through a link; a repeat of the recorded answer is a no-op showing the same result.

    A consent given or withdrawn writes its consent record in the same unit: the notice this page showed in
    `language`, and `device` (models.consent.DEVICE_FACTS, from the request)."""
    now = now or utcnow()
    resolved = resolve_link(session, raw_token, now)
    page = owner_page(session, resolved, language, now)
    refusal = _refusal(page, action, handover)
    if refusal is not None or _repeats(page, action, handover):
        return replace(page, refusal=refusal)
    _check_answer(action, handover, reason, note)
    link, actor = resolved.link, owner_actor(resolved.link.owner_id)
    try:
        with session.begin_nested():  # a submit racing this one leaves nothing half-done here
            if link.purpose == LinkPurpose.ASSIGNMENT:
                _answer_assignment(session, link, action, handover, reason, note, now)
                if action == "consent":
                    record_footage_consent(
                        session,
                        link.assignment,
                        language,
                        now,
                        ConsentChannel.WEB_LINK,
                        actor=actor,
                        link=link,
                        device=device,
                    )
            else:
                _answer_commitment(session, page, action, note, now, ConsentWay(ConsentChannel.WEB_LINK, link, device))
            link.answer, link.answered_at = LinkAnswer(action), now
            record(
                session,
                actor,
                LINK_ANSWERED,
                "owner_link",
                link.id,
                to_state=action,
                details={"handover": handover.value if handover else None, "reason": reason},
            )
    except StaleVersion:
        # Another submit got there first: the same answer shows its result, another one is refused.
        session.expire_all()
        page = owner_page(session, resolve_link(session, raw_token, now), language, now)
        return replace(page, refusal=_refusal(page, action, handover))
    return owner_page(session, resolve_link(session, raw_token, now), language, now)


def _repeats(page: OwnerPage, action: str, handover: Handover | None) -> bool:
    return page.answer is not None and page.answer.same_as(action, handover)


def _refusal(page: OwnerPage, action: str, handover: Handover | None) -> str | None:
    if page.state in (PageState.OPEN, PageState.ANSWERED) and _repeats(page, action, handover):
        return None
    if page.state == PageState.UNKNOWN or page.state in DEAD_STATES:
        return Refusal.LINK_DEAD
    if page.answer is not None:
        return Refusal.ALREADY_ANSWERED
    if action not in page.actions:
        return Refusal.NOT_OFFERED
    return None


def _check_answer(action: str, handover: Handover | None, reason: str | None, note: str | None) -> None:
    if action == "consent" and not isinstance(handover, Handover):
        raise ValidationFailed(
            refusal("choose how the footage is handed over"), {"handover": [refusal("required to consent")]}
        )
    if action == "report_no_footage" and reason not in NO_FOOTAGE_REASONS:
        raise ValidationFailed(
            refusal("say why there is no footage"),
            {"reason": [refusal("one of %(choices)s", choices=", ".join(NO_FOOTAGE_REASONS))]},
        )
    if note is not None and len(note) > NOTE_MAX_LENGTH:
        raise ValidationFailed(
            refusal("the note is too long"), {"note": [refusal("at most %(most)s characters", most=NOTE_MAX_LENGTH)]}
        )


def _answer_assignment(
    session: Session,
    link: OwnerLink,
    action: str,
    handover: Handover | None,
    reason: str | None,
    note: str | None,
    now: datetime,
) -> None:
    if action == "report_no_footage":
        note = f"{reason}: {note}" if note else reason
    apply_assignment_action(
        session, owner_actor(link.owner_id), link.assignment, action, handover=handover, note=note or None
    )
    # Consent to upload keeps the link for the upload, until the footage arrives or the link expires.
    if not (action == "consent" and handover == Handover.OWNER_UPLOAD):
        mark_used(link, now)


def _answer_commitment(
    session: Session, page: OwnerPage, action: str, note: str | None, now: datetime, way: ConsentWay
) -> None:
    """Act on the owner's current commitment (a renewal since the link was sent is the one in force)."""
    link = page.link
    if not mark_used(link, now):
        raise StaleVersion(f"owner link {link.id} was used at the same moment")
    actor = owner_actor(link.owner_id)
    if action == "sign":
        record_signature(session, actor, link.owner, signed_at=now, way=way, **_web_terms(page, now))
    elif action == "renew":
        record_renewal(session, actor, page.commitment, way=way, **_web_terms(page, now))
    else:
        record_owner_revocation(session, actor, link.owner, now, reason=note or None, way=way)


def _web_terms(page: OwnerPage, now: datetime) -> dict:
    """What a commitment signed or renewed on the web holds to: the text the page showed, for the term it states."""
    return {
        "valid_until": _years_later(now, COMMITMENT_TERM_YEARS),
        "channel": CommitmentChannel.WEB,
        "text_version": page.commitment_text.version,
        "text": page.commitment_text.full_text,
        "text_language": page.commitment_text.language,
    }


def _years_later(moment: datetime, years: int) -> datetime:
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # 29 February
        return moment.replace(year=moment.year + years, day=28)
