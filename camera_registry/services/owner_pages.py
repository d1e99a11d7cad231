"""The page an owner's link (/o/<token>) leads to: what it shows, and what the owner may do there now.

Only reads: the answers (owner_answers.py) and the clip uploads (owner_uploads.py) build this page before
they act, to check the link and the state of its assignment or commitment, and again to show the result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from geoalchemy2.shape import to_shape
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import (
    ASSIGNMENT_TRANSITIONS,
    OWNER_ANSWERS,
    UNANSWERED,
    Assignment,
    AssignmentStatus,
    FootageClip,
    Handover,
    LinkPurpose,
    OwnerLink,
    SharingCommitment,
)
from .commitments import current_commitment
from .owner_links import LinkState, ResolvedLink

ASSIGNMENT_ANSWERS = tuple(OWNER_ANSWERS)
COMMITMENT_ANSWERS = ("sign", "renew", "revoke")
UPLOAD = "upload"

#: The commitment text owners sign on the web now; texts live in camera_registry/commitment_texts/.
CURRENT_TEXT_VERSION = "2025.1"
TEXT_LANGUAGES = ("vi", "en")
TEXTS_DIR = Path(__file__).resolve().parent.parent / "commitment_texts"


class PageState:
    OPEN = "open"  # the owner may act now
    ANSWERED = "answered"  # the answer is recorded; nothing more to do
    CLOSED = "closed"  # the assignment ended without the owner (request cancelled, deadline passed)
    EXPIRED = LinkState.EXPIRED
    REVOKED = LinkState.REVOKED
    USED = LinkState.USED
    UNKNOWN = LinkState.UNKNOWN


DEAD_STATES = frozenset({PageState.CLOSED, PageState.EXPIRED, PageState.REVOKED, PageState.USED})


class Refusal:
    LINK_DEAD = "link_dead"
    ALREADY_ANSWERED = "already_answered"
    NOT_OFFERED = "not_offered"  # e.g. an upload before consenting to hand over by upload


@dataclass(frozen=True)
class Answer:
    action: str
    handover: Handover | None = None

    def same_as(self, action: str, handover: Handover | None) -> bool:
        return self.action == action and (action != "consent" or self.handover == handover)


@dataclass(frozen=True)
class PoliceContact:
    """The commune police unit behind a link: every page, dead ones too, says whom to call."""

    unit_name: str
    phone: str | None


@dataclass(frozen=True)
class LensLine:
    external_id: str
    site_name: str | None
    lon: float
    lat: float
    bearing_deg: float | None
    preservation_deadline: datetime
    partially_overwritten: bool
    window_start: datetime  # the footage asked of this lens: its own window on a timed route, else the request's
    window_end: datetime


@dataclass(frozen=True)
class CommitmentText:
    version: str
    language: str  # the file's: Vietnamese when the owner's language has none
    title: str
    paragraphs: tuple[str, ...]

    @property
    def full_text(self) -> str:
        """The text as the owner read it, as it is kept with their signature."""
        return "\n\n".join((self.title, *self.paragraphs))


@dataclass(frozen=True)
class OwnerPage:
    """Everything an owner's page shows; `refusal` says why a submission was not taken."""

    state: str
    link: OwnerLink | None = None
    police: PoliceContact | None = None
    answer: Answer | None = None
    actions: tuple[str, ...] = ()
    lenses: tuple[LensLine, ...] = ()
    clips: tuple[FootageClip, ...] = ()
    commitment_text: CommitmentText | None = None
    commitment: SharingCommitment | None = None  # the owner's current one, which renewing or revoking acts on
    refusal: str | None = None
    refusal_detail: str = ""
    errors: dict[str, list[str]] = field(default_factory=dict)


def commitment_text(language: str, version: str = CURRENT_TEXT_VERSION) -> CommitmentText:
    """The versioned text in the owner's language (Vietnamese when there is no other)."""
    language = language if language in TEXT_LANGUAGES else "vi"
    path = TEXTS_DIR / f"{version}.{language}.md"
    blocks = [block.strip() for block in path.read_text(encoding="utf-8").split("\n\n") if block.strip()]
    return CommitmentText(version, language, blocks[0].lstrip("# ").strip(), tuple(blocks[1:]))


def owner_page(session: Session, resolved: ResolvedLink, language: str, now: datetime) -> OwnerPage:
    """The page of a resolved link at `now`."""
    link = resolved.link
    if link is None:
        return OwnerPage(PageState.UNKNOWN)  # nothing about anyone for a guessed token
    live = resolved.state == LinkState.LIVE
    if link.purpose == LinkPurpose.ASSIGNMENT:
        assignment = link.assignment
        commune = assignment.request.commune
        recorded = _assignment_answer(assignment)
        actions = _assignment_actions(assignment) if live else ()
        details = {
            "lenses": _lens_lines(assignment),
            "clips": tuple(
                session.scalars(
                    select(FootageClip).where(FootageClip.assignment_id == assignment.id).order_by(FootageClip.id)
                )
            ),
        }
    else:
        commune = link.owner.commune
        recorded = Answer(link.answer.value) if link.answer is not None else None
        current = current_commitment(session, link.owner, now)
        actions = _commitment_actions(current, now) if live and recorded is None else ()
        details = {"commitment_text": commitment_text(language), "commitment": current}
    if resolved.state in (LinkState.EXPIRED, LinkState.REVOKED):
        state = resolved.state
    elif actions:
        state = PageState.OPEN
    elif recorded is not None:
        state = PageState.ANSWERED
    else:
        state = PageState.CLOSED if live else resolved.state
    police = PoliceContact(commune.name, commune.police_phone) if commune is not None else None
    return OwnerPage(state, link, police, recorded, actions, **details)


def _assignment_answer(assignment: Assignment) -> Answer | None:
    """What the owner answered, through any link or by phone to the police."""
    if assignment.answered_at is None:
        return None
    if assignment.status == AssignmentStatus.DECLINED:
        return Answer("decline")
    if assignment.status == AssignmentStatus.NO_FOOTAGE:
        return Answer("report_no_footage")
    return Answer("consent", assignment.handover)


def _assignment_actions(assignment: Assignment) -> tuple[str, ...]:
    if assignment.status in UNANSWERED:
        return ASSIGNMENT_ANSWERS
    awaits_footage = (assignment.status, "receive_footage") in ASSIGNMENT_TRANSITIONS
    if awaits_footage and assignment.handover == Handover.OWNER_UPLOAD:
        return (UPLOAD,)
    return ()


def _commitment_actions(commitment: SharingCommitment | None, now: datetime) -> tuple[str, ...]:
    if commitment is None or commitment.revoked_at is not None:
        return ("sign",)
    return ("renew", "revoke") if commitment.is_active_at(now) else ("renew",)


def _lens_lines(assignment: Assignment) -> tuple[LensLine, ...]:
    lines = []
    for item in assignment.lenses:
        point = to_shape(item.lens.point)
        lines.append(
            LensLine(
                item.lens.external_id,
                item.recorder.site.name if item.recorder.site else None,
                point.x,
                point.y,
                item.lens.bearing_deg,
                item.preservation_deadline,
                item.partially_overwritten,
                *item.asked_window,
            )
        )
    return tuple(lines)
