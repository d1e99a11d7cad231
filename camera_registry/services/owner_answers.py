"""What a camera owner can do through a live link (/o/<token>), and the page each link leads to.

Owners have no accounts: the link is their right to act, so everything here
checks the link (live, its purpose, the state of its assignment or
commitment), never an actor's reach. Answers go through the same workflow
and commitment rules as the police's, with an owner actor naming who acted.
The same answer submitted twice changes nothing and shows the same result;
a different answer after a final one is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path, PurePath

from geoalchemy2.shape import to_shape
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db import after_read
from ..models import (
    ASSIGNMENT_TRANSITIONS,
    Assignment,
    AssignmentStatus,
    CommitmentChannel,
    FootageClip,
    Handover,
    LinkAnswer,
    LinkPurpose,
    OwnerLink,
    SharingCommitment,
)
from ..models.base import utcnow
from ..models.request import UNANSWERED
from .access import owner_actor
from .audit import record
from .clips import ClipRefused, ClipUpload, StoredClip, clip_format, store_clip
from .commitments import record_renewal, record_revocation, record_signature
from .errors import Conflict, ValidationFailed
from .owner_links import LinkState, ResolvedLink, mark_used, resolve_link
from .requests import apply_assignment_action
from .uploads import Clock, Intake, UploadProblem, parse_clock
from .workflow import StaleVersion, transition_assignment

ASSIGNMENT_ANSWERS = ("consent", "decline", "report_no_footage")
COMMITMENT_ANSWERS = ("sign", "renew", "revoke")
UPLOAD = "upload"
NO_FOOTAGE_REASONS = ("camera_off", "overwritten", "other")
NOTE_MAX_LENGTH = 2000

#: The commitment text owners sign on the web now; texts live in camera_registry/commitment_texts/.
CURRENT_TEXT_VERSION = "2025.1"
TEXT_LANGUAGES = ("vi", "en")
TEXTS_DIR = Path(__file__).resolve().parent.parent / "commitment_texts"
#: How long a commitment signed on the web holds (the text says so).
COMMITMENT_TERM_YEARS = 3

#: Runs a function in a short write unit of its own and returns what it returned.
WriteUnit = Callable[[Callable[[Session], object]], object]

#: The audit action that records what a link was used for (the link itself keeps its answer).
LINK_ANSWERED = "owner_link.answer"


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


@dataclass(frozen=True)
class CommitmentText:
    version: str
    title: str
    paragraphs: tuple[str, ...]


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
    refusal: str | None = None
    refusal_detail: str = ""
    errors: dict[str, list[str]] = field(default_factory=dict)


def commitment_text(language: str, version: str = CURRENT_TEXT_VERSION) -> CommitmentText:
    """The versioned text in the owner's language (Vietnamese when there is no other)."""
    path = TEXTS_DIR / f"{version}.{language if language in TEXT_LANGUAGES else 'vi'}.md"
    blocks = [block.strip() for block in path.read_text(encoding="utf-8").split("\n\n") if block.strip()]
    return CommitmentText(version, blocks[0].lstrip("# ").strip(), tuple(blocks[1:]))


def open_link(session: Session, raw_token: str, *, language: str = "vi", now: datetime | None = None) -> OwnerPage:
    """The page a token leads to; the first look at a live assignment link marks the assignment viewed
    (written after the read: a page view never fails on it)."""
    now = now or utcnow()
    resolved = resolve_link(session, raw_token, now)
    if resolved.state == LinkState.LIVE:
        link_id = resolved.link.id
        after_read(session, lambda writer: _mark_viewed(writer, link_id, now))
    return _page(session, resolved, language, now)


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
) -> OwnerPage:
    """Take one answer through a link; a repeat of the recorded answer is a no-op showing the same result."""
    now = now or utcnow()
    resolved = resolve_link(session, raw_token, now)
    page = _page(session, resolved, language, now)
    refusal = _refusal(page, action, handover)
    if refusal is not None or _repeats(page, action, handover):
        return replace(page, refusal=refusal)
    _check_answer(action, handover, reason, note)
    link, actor = resolved.link, owner_actor(resolved.link.owner_id)
    try:
        with session.begin_nested():  # a submit racing this one leaves nothing half-done here
            if link.purpose == LinkPurpose.ASSIGNMENT:
                _answer_assignment(session, link, action, handover, reason, note, now)
            else:
                _answer_commitment(session, link, action, note, now)
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
        page = _page(session, resolve_link(session, raw_token, now), language, now)
        return replace(page, refusal=_refusal(page, action, handover))
    return _page(session, resolve_link(session, raw_token, now), language, now)


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
        raise ValidationFailed("choose how the footage is handed over", {"handover": ["required to consent"]})
    if action == "report_no_footage" and reason not in NO_FOOTAGE_REASONS:
        raise ValidationFailed("say why there is no footage", {"reason": [f"one of {', '.join(NO_FOOTAGE_REASONS)}"]})
    if note is not None and len(note) > NOTE_MAX_LENGTH:
        raise ValidationFailed("the note is too long", {"note": [f"at most {NOTE_MAX_LENGTH} characters"]})


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


def _answer_commitment(session: Session, link: OwnerLink, action: str, note: str | None, now: datetime) -> None:
    if not mark_used(link, now):
        raise StaleVersion(f"owner link {link.id} was used at the same moment")
    actor = owner_actor(link.owner_id)
    if action == "sign":
        record_signature(
            session,
            actor,
            link.owner,
            valid_until=_years_later(now, COMMITMENT_TERM_YEARS),
            channel=CommitmentChannel.WEB,
            text_version=CURRENT_TEXT_VERSION,
            signed_at=now,
        )
    elif action == "renew":
        record_renewal(
            session,
            actor,
            link.commitment,
            valid_until=_years_later(now, COMMITMENT_TERM_YEARS),
            channel=CommitmentChannel.WEB,
            text_version=CURRENT_TEXT_VERSION,
        )
    else:
        record_revocation(session, actor, link.commitment, reason=note or None)


def receive_clip(
    session: Session,
    raw_token: str,
    upload: ClipUpload,
    *,
    storage_dir: Path,
    max_bytes: int,
    write: WriteUnit | None = None,
    language: str = "vi",
    now: datetime | None = None,
) -> OwnerPage:
    """Store a clip the owner uploads after consenting to hand over by upload; the footage then counts as
    received (evidence "clip:<id>" with its SHA-256). Started, finished and refused uploads are audited.

    The upload streams for as long as the owner's network takes, so no transaction is open meanwhile:
    `session` only reads, and each record is written by `write` (a short write unit of its own; without
    one, in `session`). The link is checked again when the clip is recorded.
    """
    now = now or utcnow()
    write = write or (lambda work: work(session))
    page = _page(session, resolve_link(session, raw_token, now), language, now)
    refusal = _upload_refusal(page)
    if refusal is not None:
        return replace(page, refusal=refusal)
    link_id, assignment_id, actor = page.link.id, page.link.assignment_id, owner_actor(page.link.owner_id)
    write(
        lambda writer: record(
            writer, actor, "clip.upload_started", "assignment", assignment_id, details={"link_id": link_id}
        )
    )
    filename = ""
    try:
        filename, declared_type = upload.open()
        filename = PurePath(filename.replace("\\", "/")).name[:255]
        clock = _form_clock(getattr(upload, "fields", {}), now)
        stored = store_clip(
            upload.chunks(),
            storage_dir=storage_dir,
            subdirectory=str(assignment_id),
            filename=filename,
            clip=clip_format(filename, declared_type),
            max_bytes=max_bytes,
        )
    except ClipRefused as refused:
        reason, detail = refused.reason, refused.detail
        write(
            lambda writer: record(
                writer,
                actor,
                "clip.upload_refused",
                "assignment",
                assignment_id,
                note=detail,
                details={"link_id": link_id, "reason": reason, "name": filename},
            )
        )
        return replace(page, refusal=reason, refusal_detail=detail)
    try:
        refusal = write(
            lambda writer: _record_clip(writer, raw_token, stored, filename, language, utcnow(), now, clock)
        )
    except BaseException:
        (storage_dir / stored.relative_path).unlink(missing_ok=True)  # no file without its record
        raise
    if refusal is not None:
        (storage_dir / stored.relative_path).unlink(missing_ok=True)
    page = _page(session, resolve_link(session, raw_token, now), language, now)
    return replace(page, refusal=refusal) if refusal is not None else page


def _upload_refusal(page: OwnerPage) -> str | None:
    if page.state == PageState.OPEN and UPLOAD in page.actions:
        return None
    return Refusal.LINK_DEAD if page.state in DEAD_STATES | {PageState.UNKNOWN} else Refusal.NOT_OFFERED


def _form_clock(fields: dict[str, str], now: datetime) -> Clock | None:
    """The clock check of the plain upload form, when it was filled in (it is optional there)."""
    if not (fields.get("recorder_time") or fields.get("clock_correct")):
        return None
    try:
        return parse_clock({key: value for key, value in fields.items() if value}, now)
    except UploadProblem as problem:
        raise ClipRefused("clock", problem.detail) from None


def _record_clip(
    session: Session,
    raw_token: str,
    stored: StoredClip,
    filename: str,
    language: str,
    now: datetime,
    started_at: datetime | None = None,
    clock: Clock | None = None,
) -> str | None:
    """Record a stored clip as the footage received, if the link still takes it (else the refusal)."""
    page = _page(session, resolve_link(session, raw_token, now), language, now)
    refusal = _upload_refusal(page)
    if refusal is not None:
        return refusal
    link, assignment = page.link, page.link.assignment
    actor = owner_actor(link.owner_id)
    clip = FootageClip(
        assignment=assignment,
        stored_path=stored.relative_path,
        original_name=filename,
        content_type=stored.content_type,
        size_bytes=stored.size_bytes,
        sha256=stored.sha256,
        uploaded_at=now,
        upload_started_at=started_at,
        uploaded_by=actor.label,
        recorder_time_shown=clock.recorder_time_shown if clock else None,
        clock_checked_at=clock.checked_at if clock else None,
        clock_offset_seconds=clock.offset_seconds if clock else None,
    )
    session.add(clip)
    session.flush()
    record(
        session,
        actor,
        "clip.upload_finished",
        "footage_clip",
        clip.id,
        details={
            "link_id": link.id,
            "assignment_id": assignment.id,
            "name": filename,
            "size_bytes": stored.size_bytes,
            "sha256": stored.sha256,
        },
    )
    apply_assignment_action(
        session, actor, assignment, "receive_footage", evidence_ref=f"clip:{clip.id}", clip_id=clip.id
    )
    mark_used(link, now)
    return None


def upload_intake(session: Session, raw_token: str, *, now: datetime | None = None) -> Intake:
    """The resumable (tus) intake of a live link whose owner consented to upload: checked now, and again when
    the clip is recorded; the first clip then counts as the footage received and uses the link, as above."""
    now = now or utcnow()
    page = _page(session, resolve_link(session, raw_token, now), "vi", now)
    refusal = _upload_refusal(page)
    if refusal is not None:
        raise UploadProblem(refusal)
    # Plain values only: the closures run in later write units, after this read has ended.
    link_id, owner_id, assignment_id = page.link.id, page.link.owner_id, page.link.assignment_id

    def still_open(writer: Session) -> str | None:
        return _upload_refusal(_page(writer, resolve_link(writer, raw_token, now), "vi", now))

    def received(writer: Session, clip: FootageClip) -> None:
        current = writer.get(OwnerLink, link_id)
        apply_assignment_action(
            writer,
            owner_actor(owner_id),
            current.assignment,
            "receive_footage",
            evidence_ref=f"clip:{clip.id}",
            clip_id=clip.id,
        )
        mark_used(current, now)

    return Intake(owner_actor(owner_id), assignment_id, owner_link_id=link_id, refusal=still_open, on_complete=received)


# --------------------------------------------------------------------------- building the page


def _page(session: Session, resolved: ResolvedLink, language: str, now: datetime) -> OwnerPage:
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
        actions = _commitment_actions(link.commitment, now) if live and recorded is None else ()
        details = {"commitment_text": commitment_text(language)}
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
    if assignment.status == AssignmentStatus.CONSENTED and assignment.handover == Handover.OWNER_UPLOAD:
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
            )
        )
    return tuple(lines)


def _years_later(moment: datetime, years: int) -> datetime:
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # 29 February
        return moment.replace(year=moment.year + years, day=28)
