"""Consent that can be proven: a consent record for each consent an owner gives or withdraws, in the act's unit.

A commitment's consents are written by services.commitments with the signature or the revocation (its notice is
the commitment's stored text); a footage handover's here, its notice the page's own facts written out as plain
text (`footage_notice`) from the same page data the owner page renders.

Nothing here runs on silence: an assignment left unanswered or a link never opened leaves no record, so no
reader can take it for consent.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from geoalchemy2.shape import to_shape
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db import after_read
from ..models import Assignment, ConsentChannel, ConsentPurpose, ConsentRecord, Handover, Owner, OwnerLink
from ..models.consent import device_facts
from ..timezones import local_time
from .access import Actor
from .audit import record
from .commitments import text_digest
from .errors import NotFound, PermissionDenied
from .messages import refusal
from .wording import say

#: The wording of the footage-consent notice; a new version whenever its sentences or facts change.
FOOTAGE_NOTICE_VERSION = "footage-2026.1"
#: What a handover choice is called on the page, after "I agree to hand over a copy".
HANDOVER_LABELS = {
    Handover.POLICE_COPY: "An officer comes to copy it",
    Handover.OWNER_UPLOAD: "I upload the clip myself",
}
DIRECTIONS = ("north", "north-east", "east", "south-east", "south", "south-west", "west", "north-west")
#: Reading the records shows device facts: audited as a disclosure of the owner's contacts (services.owners).
READ_ACTION = "owner.contacts_read"
SEEN_ON = "consents_api"


def footage_notice(assignment: Assignment, handover: Handover, language: str) -> str:
    """The consent notice of an assignment's page as plain text: the same facts, in the same words and order as
    the page (web/templates/owner/assignment.html, from services.owner_pages), ending with the choice agreed to."""
    request = assignment.request
    unit = say(language, "Police of %(commune)s", commune=request.commune.name)
    ask = (
        "Under the sharing commitment you signed, %(unit)s asks you to keep the recordings below and hand over a copy."
        if assignment.covered_by_commitment
        else "%(unit)s asks whether you agree to keep the recordings below and hand over a copy."
    )
    lines = [
        say(language, "Footage request from the police"),
        say(language, ask, unit=unit),
        f"{say(language, 'Who asks')}: {unit}",
        f"{say(language, 'Legal basis')}: {request.legal_basis}",
        f"{say(language, 'Case number')}: {request.case_ref}",
        f"{say(language, 'Time window (Vietnam time)')}: "
        f"{local_time(assignment.window_start)} – {local_time(assignment.window_end)}",  # this owner's lenses' span
        f"{say(language, 'Keep the recordings until')}: {local_time(assignment.overwrite_deadline)}",
        say(language, "Your recorder may overwrite them after that; please do not let it."),
    ]
    if request.deadline is not None:
        lines.append(f"{say(language, 'Please answer by')}: {local_time(assignment.preservation_deadline)}")
        lines.append(
            say(language, "The police need your answer by then; keep the recordings until the time above all the same.")
        )
    lines.append(say(language, "Which cameras"))
    for item in assignment.lenses:
        lens, site, point = item.lens, item.recorder.site, to_shape(item.lens.point)
        where = f", {site.name}" if site else ""
        lines.append(f"{say(language, 'Camera %(name)s', name=lens.external_id)}{where}: {point.y:.6f}, {point.x:.6f}")
        if lens.bearing_deg is not None:
            direction = say(language, DIRECTIONS[int((lens.bearing_deg + 22.5) // 45) % 8])
            lines.append(say(language, "facing %(direction)s", direction=direction))
        start, end = (local_time(moment) for moment in item.asked_window)
        lines.append(say(language, "Recordings asked for: %(start)s – %(end)s", start=start, end=end))
        if item.partially_overwritten:
            lines.append(say(language, "Part of the window may already be overwritten on this camera."))
    lines.append(f"{say(language, 'I agree to hand over a copy')}: {say(language, HANDOVER_LABELS[handover])}")
    return "\n".join(lines)


def record_footage_consent(
    session: Session,
    assignment: Assignment,
    language: str,
    given_at: datetime,
    channel: ConsentChannel,
    *,
    actor: Actor,
    link: OwnerLink | None = None,
    device: Mapping[str, str | None] | None = None,
) -> ConsentRecord:
    """The owner agreed to hand over the assignment's footage: on their link's page (`link`, `device`), or to an
    officer (`actor`) by phone or on site, who had the same facts to say. The notice is kept in full."""
    notice = footage_notice(assignment, assignment.handover, language)
    consent = ConsentRecord(
        owner_id=assignment.owner_id,
        purpose=ConsentPurpose.FOOTAGE_HANDOVER_AGREED,
        channel=channel,
        given_at=given_at,
        notice_version=FOOTAGE_NOTICE_VERSION,
        notice_text=notice,
        notice_sha256=text_digest(notice),
        language=language,
        assignment_id=assignment.id,
        owner_link_id=link.id if link else None,
        recorded_by_user_id=actor.user_id,
        **(device_facts(device) if link else {}),
    )
    session.add(consent)
    session.flush()
    return consent


def owner_consents(session: Session, actor: Actor, owner_id: int) -> list[ConsentRecord]:
    """An owner's consent records, oldest first, for administrators and the police of the owner's commune; the
    device facts they show are a disclosure, audited as contact reads are."""
    owner = session.get(Owner, owner_id)
    if owner is None or not actor.can_read(owner.commune_id):
        raise NotFound.of("owner", owner_id)
    if not actor.sees_contacts(owner.commune_id):
        raise PermissionDenied(
            refusal("only administrators and the police of the owner's commune may read their consents")
        )
    consents = list(
        session.scalars(select(ConsentRecord).where(ConsentRecord.owner_id == owner_id).order_by(ConsentRecord.id))
    )
    details = {"owner_ids": [owner_id], "seen_on": SEEN_ON}
    after_read(session, lambda writer: record(writer, actor, READ_ACTION, "owner", None, details=details))
    return consents
