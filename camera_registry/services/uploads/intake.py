"""Who uploads to which assignment, and the intake of an officer's own copy of the footage."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from ...models import AssignmentStatus, FootageClip, Role
from .. import messages
from ..access import Actor
from ..errors import NotFound, PermissionDenied

#: Officers may add their copies while the footage is expected or after it arrived.
POLICE_UPLOAD_STATES = (AssignmentStatus.CONSENTED, AssignmentStatus.FOOTAGE_RECEIVED)


@dataclass(frozen=True)
class Intake:
    """Who uploads to which assignment, with the checks and follow-up their kind of uploader needs.

    `refusal(session)` says why the upload is not (or no longer) taken, or None; it runs when an upload is
    created and again in the write unit that records the clip. `on_complete(session, clip)` runs in that
    same unit (an owner's footage counts as received and the link is used).
    """

    actor: Actor
    assignment_id: int
    owner_link_id: int | None = None
    refusal: Callable[[Session], str | None] = lambda session: None
    on_complete: Callable[[Session, FootageClip], None] = lambda session, clip: None


def police_intake(session: Session, actor: Actor, assignment_id: int, *, request_id: int | None = None) -> Intake:
    """An officer's own copy of the footage: police of the request's commune (or an admin) on an assignment
    whose owner agreed to hand it over."""
    from ...models import Assignment

    assignment = session.get(Assignment, assignment_id)
    if (
        assignment is None
        or (request_id is not None and assignment.request_id != request_id)
        or not actor.can_read(assignment.request.commune_id)
    ):
        raise NotFound.of("assignment", assignment_id)
    if not (actor.is_admin or actor.role == Role.COMMUNE_POLICE) or not actor.can_write(assignment.request.commune_id):
        raise PermissionDenied(
            messages.refusal("%(actor)s may not add footage to assignment %(id)s", actor=actor.name, id=assignment_id)
        )

    def refusal(writer: Session) -> str | None:
        current = writer.get(Assignment, assignment_id)
        return None if current.status in POLICE_UPLOAD_STATES else "not_offered"

    return Intake(actor, assignment_id, refusal=refusal)
