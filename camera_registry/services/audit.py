"""Writing the audit trail, always in the caller's transaction."""

from __future__ import annotations

from sqlalchemy.orm import Session

from ..models import AuditEvent
from .access import Actor


def record(
    session: Session,
    actor: Actor,
    action: str,
    entity_type: str,
    entity_id: object = None,
    *,
    from_state: str | None = None,
    to_state: str | None = None,
    note: str | None = None,
    details: dict | None = None,
) -> AuditEvent:
    event = AuditEvent(
        actor_user_id=actor.user_id,
        actor_label=actor.label,
        action=action,
        entity_type=entity_type,
        entity_id=None if entity_id is None else str(entity_id),
        from_state=from_state,
        to_state=to_state,
        note=note,
        details=details,
    )
    session.add(event)
    return event
